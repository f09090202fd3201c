// An Engine for route tests: plays a script of text pieces to each request's sink from its own
// thread, or, when `endless`, a token every few milliseconds until the request is cancelled.
// Serves one model, "smol", with a byte-level tokenizer and a ChatML template.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/engine/engine.h"
#include "model/tokenizer.h"
#include "model/tokenizer_test_util.h"

namespace hearth::daemon {

class ScriptedEngine : public Engine {
 public:
  ScriptedEngine() {
    model::TokenizerSpec spec = model::testing::ByteLevelSpec();
    spec.chat_template =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
        "'<|im_end|>' + '\\n'}}{% endfor %}";
    auto t = model::Tokenizer::Create(std::move(spec));
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    tokenizer_ = std::move(t).value();
  }
  ~ScriptedEngine() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  const model::Tokenizer* tokenizer(const std::string& model) const override {
    return model == "smol" ? tokenizer_.get() : nullptr;
  }
  int32_t context_length(const std::string&) const override { return 4096; }

  StatusOr<uint64_t> Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) override {
    std::lock_guard<std::mutex> lock(mu_);
    const uint64_t id = next_id_++;
    const auto prompt_tokens = static_cast<int32_t>(request.prompt.size());
    threads_.emplace_back([this, id, sink, prompt_tokens] { Play(id, *sink, prompt_tokens); });
    return id;
  }

  void Cancel(uint64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_.insert(id);
    cv_.notify_all();
  }

  EngineStats Stats() const override { return {}; }

  bool WaitCancelled(uint64_t id, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return cancelled_.count(id) > 0; });
  }
  bool cancelled(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_.count(id) > 0;
  }

  // Set before requests arrive.
  std::vector<std::string> script = {"Hel", "lo", " world"};
  bool endless = false;

 private:
  void Play(uint64_t id, RequestSink& sink, int32_t prompt_tokens) {
    using namespace std::chrono_literals;
    int32_t n = 0;
    auto emit = [&](const std::string& text) {
      TokenEvent e;
      e.token.id = 4 + static_cast<uint8_t>(text.empty() ? ' ' : text[0]);
      e.token.bytes = std::string(tokenizer_->TokenBytes(e.token.id));  // as the engine spells it
      e.text = text;
      sink.OnToken(e);
      ++n;
    };
    FinishEvent finish;
    finish.prompt_tokens = prompt_tokens;
    if (endless) {
      std::unique_lock<std::mutex> lock(mu_);
      while (!stopping_ && !cancelled_.count(id)) {
        lock.unlock();
        emit("tick ");
        lock.lock();
        cv_.wait_for(lock, 5ms);
      }
      finish.finish_reason = FinishReason::kCancelled;
    } else {
      for (const std::string& piece : script) {
        std::this_thread::sleep_for(1ms);
        emit(piece);
      }
      finish.finish_reason = FinishReason::kStop;
    }
    finish.completion_tokens = n;
    sink.OnFinish(finish);
  }

  std::unique_ptr<model::Tokenizer> tokenizer_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_id_ = 100;
  std::set<uint64_t> cancelled_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

}  // namespace hearth::daemon
