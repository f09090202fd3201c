// Runs stream-provider calls on the handler pool without a thread wake-up per call. Due calls go
// into one queue that a few drain loops empty back to back; a new loop starts only when every
// running loop is inside a (possibly blocking) call and calls are piling up. Thousands of idle
// streams polled every 100 ms then cost one busy pool thread, not a context switch per poll.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

namespace hearth::http {

class ProviderQueue {
 public:
  ProviderQueue(boost::asio::thread_pool* pool, size_t max_loops) : pool_(pool), max_loops_(max_loops) {}

  // Runs `call` soon on a pool thread. Thread-safe.
  void Push(std::function<void()> call);

 private:
  void Drain();
  // Whether to start another loop: every loop is inside a call and the queue is long, or no
  // call has started or finished for a while (a provider that blocks long).
  bool NeedsLoop() const;  // REQUIRES(mu_)

  // Constant after construction.
  boost::asio::thread_pool* const pool_;
  const size_t max_loops_;

  std::mutex mu_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  size_t loops_ = 0;                         // drain loops running; guarded by mu_
  size_t calling_ = 0;                       // of those, inside a call; guarded by mu_
  std::chrono::steady_clock::time_point last_progress_;  // a call started or ended; guarded by mu_
};

}  // namespace hearth::http
