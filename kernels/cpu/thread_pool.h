// A small persistent thread pool with a low-overhead parallel-for. The caller
// owns it (no global pool); the calling thread takes part as thread 0. Idle
// workers spin briefly before sleeping, because a decode step runs hundreds of
// short parallel-fors back to back.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

namespace hearth::kernels {

class ThreadPool {
 public:
  // num_threads <= 0: one per hardware thread.
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls fn(task_index, thread_index) for every task in [0, num_tasks), spread
  // over the threads, and returns when all are done. thread_index is in
  // [0, num_threads()). Which thread runs which task is unspecified. Not
  // reentrant: fn must not call Run on the same pool.
  template <typename Fn>
  void Run(int64_t num_tasks, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    auto call = [](void* obj, int64_t task, int thread) { (*static_cast<F*>(obj))(task, thread); };
    RunTasks(num_tasks, Task{const_cast<void*>(static_cast<const void*>(&fn)), call});
  }

  // A 64-byte-aligned buffer of at least `bytes` owned by one thread (tasks use
  // their thread_index). It is reused across calls and only grows, so hot
  // loops do not allocate after the first call. Contents are not preserved
  // when it grows.
  uint8_t* ThreadScratch(int thread_index, size_t bytes);
  // Same, one buffer for the caller to share with tasks during a Run (for
  // example the quantized activations of a matmul). Call outside Run.
  uint8_t* SharedScratch(size_t bytes);

  // Caller-side counters for profiling (off by default: two clock reads per Run): the
  // parallel-fors that woke other threads (one task, or one thread, runs inline), and the time the calling thread spent waiting after its own share of
  // the tasks ran out (other threads' longer shares, their wake-up and the hand-off).
  struct Stats {
    int64_t num_runs = 0;
    int64_t wait_ns = 0;
  };
  void set_collect_stats(bool on) { collect_stats_ = on; }
  const Stats& stats() const { return stats_; }
  void ResetStats() { stats_ = {}; }

 private:
  struct Task {
    void* obj;
    void (*call)(void* obj, int64_t task, int thread);
  };
  struct Buffer {
    struct Free {
      void operator()(uint8_t* p) const;
    };
    std::unique_ptr<uint8_t, Free> data;
    size_t size = 0;
  };
  // Each thread's slot, padded so threads do not share cache lines.
  struct alignas(64) Slot {
    Buffer scratch;
  };

  void RunTasks(int64_t num_tasks, Task task);
  void WorkerLoop(int thread_index);
  void DrainTasks(int thread_index);
  bool CheckIn(uint64_t generation);
  static uint8_t* Grow(Buffer& buf, size_t bytes);

  // Constant after construction.
  const int num_threads_;
  std::vector<std::thread> workers_;
  std::unique_ptr<Slot[]> slots_;  // [num_threads_]
  Buffer shared_;
  bool collect_stats_ = false;  // read and written by the calling thread only
  Stats stats_;                 // same

  // The current job. state_ packs (generation << 32) | closed bit | number of
  // workers checked in. A worker checks in with a CAS that only succeeds while
  // the generation it saw is open, so a worker that wakes late can never read
  // a job that is being replaced. The caller waits only for finished tasks and
  // for checked-in workers, not for every worker to wake up.
  static constexpr uint64_t kClosed = uint64_t{1} << 31;
  Task task_{};                                // written before the generation opens
  int64_t num_tasks_ = 0;                      // same
  alignas(64) std::atomic<int64_t> next_task_{0};
  alignas(64) std::atomic<int64_t> done_tasks_{0};
  alignas(64) std::atomic<uint64_t> state_{kClosed};
  std::atomic<bool> stop_{false};
};

}  // namespace hearth::kernels
