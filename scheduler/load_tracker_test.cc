#include "scheduler/load_tracker.h"

#include <gtest/gtest.h>

namespace hearth::scheduler {
namespace {

// Windows of 1 s: two requests overlap for half a window, one runs across a boundary.
TEST(LoadTrackerTest, TimeWeightedAveragePeakAndArrivalsPerWindow) {
  LoadTracker t(1000);
  t.Arrive("a", 10'000);  // window [10 s, 11 s)
  t.Arrive("a", 10'500);
  t.Leave("a", 10'750);
  EXPECT_TRUE(t.Advance(10'999).empty());
  t.Leave("a", 11'250);  // the first one, in the next window
  std::vector<ClosedWindow> w = t.Advance(12'000);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].model, "a");
  EXPECT_EQ(w[0].start_ms, 10'000);
  // 1 in flight for 0.5 s, 2 for 0.25 s, 1 for 0.25 s: 1.25 requests on average.
  EXPECT_DOUBLE_EQ(w[0].load.avg, 1.25);
  EXPECT_EQ(w[0].load.peak, 2);
  EXPECT_EQ(w[0].arrivals, 2);
  // The next window: 1 in flight for 0.25 s, no arrival, its peak the one carried in.
  EXPECT_EQ(w[1].start_ms, 11'000);
  EXPECT_DOUBLE_EQ(w[1].load.avg, 0.25);
  EXPECT_EQ(w[1].load.peak, 1);
  EXPECT_EQ(w[1].arrivals, 0);
}

TEST(LoadTrackerTest, IdleWindowsCloseAsZerosAndNoneIsLostBetweenAdvances) {
  LoadTracker t(1000);
  t.Arrive("a", 500);
  t.Leave("a", 600);
  t.Arrive("b", 3'100);  // a new model: its windows start at 3 s
  std::vector<ClosedWindow> w = t.Advance(4'000);
  // a: [0,1) [1,2) [2,3) [3,4); b: [3,4).
  ASSERT_EQ(w.size(), 5u);
  EXPECT_DOUBLE_EQ(w[0].load.avg, 0.1);
  for (int i = 1; i < 4; ++i) EXPECT_EQ(w[i].load.avg, 0) << i;
  int b = 0;
  for (const ClosedWindow& c : w) b += c.model == "b";
  EXPECT_EQ(b, 1);
  // Windows closed by an event between two Advances are handed out by the next one.
  t.Leave("b", 5'500);
  w = t.Advance(5'600);
  int b_windows = 0;
  for (const ClosedWindow& c : w) b_windows += c.model == "b";
  EXPECT_EQ(b_windows, 1);  // [4,5), closed when b left
}

}  // namespace
}  // namespace hearth::scheduler
