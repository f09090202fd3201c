#include "kernels/cpu/thread_pool.h"

#include <atomic>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace hearth::kernels {
namespace {

TEST(ThreadPool, RunsEveryTaskOnce) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.num_threads(), threads);
    for (int64_t tasks : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(tasks);
      std::atomic<bool> bad_thread{false};
      pool.Run(tasks, [&](int64_t t, int thread) {
        hits[t].fetch_add(1);
        if (thread < 0 || thread >= threads) bad_thread = true;
      });
      for (int64_t t = 0; t < tasks; ++t) ASSERT_EQ(hits[t].load(), 1) << t;
      EXPECT_FALSE(bad_thread.load());
    }
  }
}

TEST(ThreadPool, StatsCountRunsOnlyWhenCollecting) {
  ThreadPool pool(2);
  pool.Run(4, [](int64_t, int) {});
  EXPECT_EQ(pool.stats().num_runs, 0);
  pool.set_collect_stats(true);
  for (int i = 0; i < 3; ++i) pool.Run(4, [](int64_t, int) {});
  pool.Run(1, [](int64_t, int) {});  // runs inline: nothing to wait for
  EXPECT_EQ(pool.stats().num_runs, 3);
  EXPECT_GE(pool.stats().wait_ns, 0);
  pool.ResetStats();
  EXPECT_EQ(pool.stats().num_runs, 0);
  EXPECT_EQ(pool.stats().wait_ns, 0);
}

TEST(ThreadPool, ManyBackToBackRuns) {
  ThreadPool pool(2);
  int64_t total = 0;
  for (int run = 0; run < 20000; ++run) {
    std::atomic<int64_t> sum{0};
    pool.Run(4, [&](int64_t t, int) { sum.fetch_add(t + 1); });
    total += sum.load();
  }
  EXPECT_EQ(total, 20000 * 10);
}

TEST(ThreadPool, DefaultUsesHardwareThreads) {
  ThreadPool pool;
  EXPECT_GE(pool.num_threads(), 1);
}

TEST(ThreadPool, ScratchIsPerThreadAlignedAndReused) {
  ThreadPool pool(2);
  uint8_t* a = pool.ThreadScratch(0, 100);
  uint8_t* b = pool.ThreadScratch(1, 100);
  EXPECT_NE(a, b);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
  EXPECT_EQ(pool.ThreadScratch(0, 64), a);  // smaller request reuses the buffer
  uint8_t* s = pool.SharedScratch(1 << 20);
  s[(1 << 20) - 1] = 1;  // the whole size is usable (ASan checks)
  std::vector<int64_t> seen(2, 0);
  pool.Run(64, [&](int64_t, int thread) {
    uint8_t* mine = pool.ThreadScratch(thread, 256);
    mine[255] = static_cast<uint8_t>(thread);
    seen[thread] += 1;
  });
  EXPECT_EQ(seen[0] + seen[1], 64);
}

}  // namespace
}  // namespace hearth::kernels
