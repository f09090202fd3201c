#include "scheduler/forecast.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace hearth::scheduler {
namespace {

std::vector<WindowLoad> Constant(int n, double avg, double peak) { return std::vector<WindowLoad>(n, {avg, peak}); }

TEST(ForecastTest, EmptyHistoryPredictsNothing) {
  const Forecast f = PredictNext({});
  EXPECT_EQ(f.predicted.avg, 0);
  EXPECT_EQ(f.predicted.peak, 0);
}

TEST(ForecastTest, AConstantLoadPredictsItself) {
  const Forecast f = PredictNext(Constant(40, 3.5, 7));
  EXPECT_DOUBLE_EQ(f.predicted.avg, 3.5);
  EXPECT_DOUBLE_EQ(f.predicted.peak, 7);
  EXPECT_DOUBLE_EQ(f.correction.avg, 0);
  EXPECT_FALSE(f.periodic) << "40 windows of 300 s do not reach back a day";
}

// A level that steps up is caught up with by the correction before the recent mean has moved.
TEST(ForecastTest, AStepIsFollowed) {
  std::vector<WindowLoad> h = Constant(20, 2, 4);
  for (int i = 0; i < 3; ++i) h.push_back({10, 20});
  const Forecast soon = PredictNext(h);
  // Baseline: the last 12 windows' mean, (9 x 2 + 3 x 10) / 12 = 4; the new windows' residuals
  // against their own baselines lift the prediction well above it.
  EXPECT_DOUBLE_EQ(soon.baseline.avg, 4);
  EXPECT_GT(soon.predicted.avg, 8);
  EXPECT_LT(soon.predicted.avg, 12);
  for (int i = 0; i < 20; ++i) h.push_back({10, 20});
  const Forecast later = PredictNext(h);
  EXPECT_NEAR(later.predicted.avg, 10, 1e-9);
  EXPECT_NEAR(later.predicted.peak, 20, 1e-9);
}

// A daily pattern: from the second day on, each window is predicted by the same window of the
// days before, exactly, and the naive predictor does far worse.
TEST(ForecastTest, ADailyPeriodIsPredictedFromEarlierDays) {
  ForecastOptions o;
  o.window_seconds = 3600;  // 24 windows a day
  std::vector<WindowLoad> series;
  for (int day = 0; day < 5; ++day) {
    for (int hour = 0; hour < 24; ++hour) {
      const double load = 10 + 8 * std::sin(hour * 2 * M_PI / 24);
      series.push_back({load, 2 * load});
    }
  }
  std::vector<WindowLoad> history(series.begin(), series.begin() + 24 * 4 + 5);
  const Forecast f = PredictNext(history, o);
  EXPECT_TRUE(f.periodic);
  EXPECT_NEAR(f.predicted.avg, series[24 * 4 + 5].avg, 1e-9);
  EXPECT_NEAR(f.predicted.peak, series[24 * 4 + 5].peak, 1e-9);
  const ForecastError e = Evaluate(series, o);
  EXPECT_EQ(e.windows, 24 * 5 - 1);
  EXPECT_LT(e.avg, e.naive_avg);
  EXPECT_LT(e.peak, e.naive_peak);
}

// A lone burst raises the next prediction, which then fades back to the level.
TEST(ForecastTest, ABurstFades) {
  std::vector<WindowLoad> h = Constant(30, 5, 5);
  h.push_back({50, 80});
  const Forecast after = PredictNext(h);
  // Baseline: (11 x 5 + 50) / 12 = 8.75; the burst's residual (45) has the newest weight.
  EXPECT_DOUBLE_EQ(after.baseline.avg, 8.75);
  EXPECT_GT(after.predicted.avg, 20);
  for (int i = 0; i < 30; ++i) h.push_back({5, 5});
  EXPECT_NEAR(PredictNext(h).predicted.avg, 5, 1e-9);
}

TEST(ForecastTest, NeverNegative) {
  std::vector<WindowLoad> h = Constant(12, 10, 10);
  for (int i = 0; i < 3; ++i) h.push_back({0, 0});
  EXPECT_GE(PredictNext(h).predicted.avg, 0);
  EXPECT_GE(PredictNext(h).predicted.peak, 0);
}

}  // namespace
}  // namespace hearth::scheduler
