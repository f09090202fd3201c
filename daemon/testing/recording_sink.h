// A RequestSink for tests: records a request's tokens, text and finish, and
// lets the test wait for them. Fails the test on a token after the finish or
// on a second finish.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/engine/engine.h"

namespace hearth::daemon {

class RecordingSink : public RequestSink {
 public:
  void OnToken(const TokenEvent& event) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_FALSE(finished_) << "token after finish";
    tokens_.push_back(event.token.id);
    text_ += event.text;
    cv_.notify_all();
  }
  void OnFinish(const FinishEvent& event) override {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_FALSE(finished_) << "finished twice";
    finished_ = true;
    finish_ = event;
    text_ += event.text;
    cv_.notify_all();
  }
  bool WaitFinished(int ms = 120000) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return finished_; });
  }
  bool WaitTokens(size_t n, int ms = 60000) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return tokens_.size() >= n || finished_; });
  }
  size_t num_tokens() {
    std::lock_guard<std::mutex> lock(mu_);
    return tokens_.size();
  }
  std::vector<int32_t> tokens() {
    std::lock_guard<std::mutex> lock(mu_);
    return tokens_;
  }
  std::string text() {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }
  bool finished() {
    std::lock_guard<std::mutex> lock(mu_);
    return finished_;
  }
  FinishEvent finish() {
    std::lock_guard<std::mutex> lock(mu_);
    return finish_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int32_t> tokens_;
  std::string text_;
  bool finished_ = false;
  FinishEvent finish_;
};

}  // namespace hearth::daemon
