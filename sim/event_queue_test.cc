#include "sim/event_queue.h"

#include <gtest/gtest.h>

#include <vector>

namespace hearth::sim {
namespace {

TEST(EventQueueTest, PopsInTimeOrder) {
  EventQueue q;
  q.Push(30, EventKind::kArrival, 0, 1);
  q.Push(10, EventKind::kStepDone, 0, 2);
  q.Push(30, EventKind::kWindow, 0, 3);
  q.Push(10, EventKind::kArrival, 0, 4);
  q.Push(20, EventKind::kModelReady, 0, 5);
  std::vector<int64_t> args;
  std::vector<int64_t> times;
  while (!q.empty()) {
    Event e = q.Pop();
    args.push_back(e.arg);
    times.push_back(q.now_ns());
  }
  EXPECT_EQ(args, (std::vector<int64_t>{4, 2, 5, 1, 3}));  // the step ending at 10 after the arrival
  EXPECT_EQ(times, (std::vector<int64_t>{10, 10, 20, 30, 30}));
}

TEST(EventQueueTest, StepsEndingTogetherGoAfterTheRestByGpu) {
  EventQueue q;
  q.Push(10, EventKind::kStepDone, 5, 1);
  q.Push(10, EventKind::kStepDone, 2, 2);
  q.Push(10, EventKind::kRetry, 9, 3);
  q.Push(10, EventKind::kStepDone, 2, 4);  // the same GPU: push order
  q.Push(10, EventKind::kArrival, 0, 5);
  std::vector<int64_t> args;
  while (!q.empty()) args.push_back(q.Pop().arg);
  EXPECT_EQ(args, (std::vector<int64_t>{3, 5, 2, 4, 1}));
}

TEST(EventQueueTest, ManyTiesKeepPushOrder) {
  EventQueue q;
  for (int i = 0; i < 1000; ++i) q.Push(i % 3, EventKind::kArrival, 0, i);
  int64_t last_time = -1;
  int64_t last_arg = -1;
  while (!q.empty()) {
    Event e = q.Pop();
    if (e.time_ns == last_time) {
      EXPECT_GT(e.arg, last_arg);
    } else {
      EXPECT_GT(e.time_ns, last_time);
    }
    last_time = e.time_ns;
    last_arg = e.arg;
  }
}

TEST(EventQueueTest, InterleavedPushesAreDeterministic) {
  auto run = [] {
    EventQueue q;
    std::vector<int64_t> order;
    q.Push(0, EventKind::kArrival, 0, 0);
    int64_t next = 1;
    while (!q.empty() && next < 500) {
      Event e = q.Pop();
      order.push_back(e.arg);
      q.Push(e.time_ns + (e.arg * 7) % 5, EventKind::kStepDone, 0, next++);
      q.Push(e.time_ns + (e.arg * 3) % 5, EventKind::kStepDone, 0, next++);
    }
    return order;
  };
  EXPECT_EQ(run(), run());
}

TEST(EventQueueDeathTest, RefusesThePast) {
  EventQueue q;
  q.Push(10, EventKind::kArrival, 0, 0);
  q.Pop();
  EXPECT_DEATH(q.Push(5, EventKind::kArrival, 0, 0), "past");
}

}  // namespace
}  // namespace hearth::sim
