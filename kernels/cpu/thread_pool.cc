// Parallel-for over persistent workers: a generation counter wakes them, an
// atomic counter hands out tasks, a busy count tells the caller when all are
// done.
#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "common/check.h"

namespace hearth::kernels {
namespace {

// How long an idle worker polls for the next job before sleeping (~100 us on
// current x86 cores): longer than the gap between two matmuls of a decode step.
constexpr int kSpinIterations = 20000;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

void ThreadPool::Buffer::Free::operator()(uint8_t* p) const { std::free(p); }

ThreadPool::ThreadPool(int num_threads)
    : num_threads_(num_threads > 0 ? num_threads
                                   : std::max(1, static_cast<int>(std::thread::hardware_concurrency()))),
      slots_(new Slot[num_threads_]) {
  workers_.reserve(num_threads_ - 1);
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_relaxed);
  state_.fetch_add(uint64_t{1} << 32, std::memory_order_release);
  state_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::DrainTasks(int thread_index) {
  for (;;) {
    const int64_t t = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (t >= num_tasks_) return;
    task_.call(task_.obj, t, thread_index);
    done_tasks_.fetch_add(1, std::memory_order_release);
  }
}

void ThreadPool::RunTasks(int64_t num_tasks, Task task) {
  if (num_tasks <= 0) return;
  if (num_threads_ == 1 || num_tasks == 1) {
    for (int64_t t = 0; t < num_tasks; ++t) task.call(task.obj, t, 0);
    return;
  }
  if (collect_stats_) ++stats_.num_runs;
  const uint64_t prev = state_.load(std::memory_order_relaxed);
  CHECK((prev & kClosed) != 0) << "ThreadPool::Run is not reentrant";
  task_ = task;
  num_tasks_ = num_tasks;
  next_task_.store(0, std::memory_order_relaxed);
  done_tasks_.store(0, std::memory_order_relaxed);
  const uint64_t gen = (prev >> 32) + 1;
  state_.store(gen << 32, std::memory_order_release);  // open, nobody checked in
  state_.notify_all();
  DrainTasks(0);
  const auto wait_start = collect_stats_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
  for (int spins = 0; done_tasks_.load(std::memory_order_acquire) != num_tasks; ++spins) {
    if (spins < kSpinIterations) {
      CpuRelax();
    } else {
      std::this_thread::yield();
    }
  }
  // Close the generation once no worker is inside it; later arrivals see it
  // closed and go back to waiting.
  uint64_t expected = gen << 32;
  for (int spins = 0;
       !state_.compare_exchange_weak(expected, (gen << 32) | kClosed, std::memory_order_acq_rel);
       ++spins) {
    expected = gen << 32;
    if (spins < kSpinIterations) {
      CpuRelax();
    } else {
      std::this_thread::yield();  // a checked-in worker was preempted
    }
  }
  if (collect_stats_) {
    stats_.wait_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                           wait_start).count();
  }
}

bool ThreadPool::CheckIn(uint64_t generation) {
  uint64_t s = state_.load(std::memory_order_acquire);
  while ((s >> 32) == generation && (s & kClosed) == 0) {
    if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) return true;
  }
  return false;
}

void ThreadPool::WorkerLoop(int thread_index) {
  uint64_t seen = 0;  // the generation at construction, even if this thread starts late
  for (;;) {
    uint64_t s = state_.load(std::memory_order_acquire);
    for (int spins = 0; (s >> 32) == seen && spins < kSpinIterations; ++spins) {
      CpuRelax();
      s = state_.load(std::memory_order_acquire);
    }
    while ((s >> 32) == seen) {
      state_.wait(s, std::memory_order_acquire);
      s = state_.load(std::memory_order_acquire);
    }
    seen = s >> 32;
    if (stop_.load(std::memory_order_relaxed)) return;
    if (!CheckIn(seen)) continue;  // too late: that job is already finished
    DrainTasks(thread_index);
    state_.fetch_sub(1, std::memory_order_release);
  }
}

uint8_t* ThreadPool::Grow(Buffer& buf, size_t bytes) {
  if (bytes > buf.size || buf.data == nullptr) {
    const size_t size = (std::max<size_t>(bytes, 64) + 63) / 64 * 64;
    auto* p = static_cast<uint8_t*>(std::aligned_alloc(64, size));
    CHECK(p != nullptr) << "out of memory allocating " << size << " bytes of scratch";
    buf.data.reset(p);
    buf.size = size;
  }
  return buf.data.get();
}

uint8_t* ThreadPool::ThreadScratch(int thread_index, size_t bytes) {
  CHECK(thread_index >= 0 && thread_index < num_threads_) << "thread " << thread_index;
  return Grow(slots_[thread_index].scratch, bytes);
}

uint8_t* ThreadPool::SharedScratch(size_t bytes) { return Grow(shared_, bytes); }

}  // namespace hearth::kernels
