// A request sink that only waits for the finish: what a handler that answers once, after the
// end (a non-streamed completion, an embedding), hands the engine.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "daemon/engine/engine.h"

namespace hearth::daemon {

class FinishWaiter : public RequestSink {
 public:
  void OnToken(const TokenEvent&) override {}

  void OnFinish(const FinishEvent& event) override {
    std::lock_guard<std::mutex> lock(mu_);
    finish_ = event;
    done_ = true;
    cv_.notify_all();
  }

  FinishEvent Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return done_; });
    return finish_;
  }

  // Waits at most `timeout`; true once finished (then Wait() returns at once).
  bool WaitFor(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return done_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  FinishEvent finish_;  // GUARDED_BY(mu_)
  bool done_ = false;   // GUARDED_BY(mu_)
};

}  // namespace hearth::daemon
