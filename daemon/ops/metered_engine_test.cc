#include "daemon/ops/metered_engine.h"

#include <gtest/gtest.h>

#include <map>

#include "model/tokenizer.h"
#include "model/tokenizer_test_util.h"

namespace hearth::daemon {
namespace {

// Keeps every accepted sink so the test can play the engine's events by hand.
class ScriptedEngine : public Engine {
 public:
  ScriptedEngine() : tokenizer_(std::move(model::Tokenizer::Create(model::testing::ByteLevelSpec())).value()) {}
  const model::Tokenizer* tokenizer(const std::string& model) const override {
    return model == "smol" ? tokenizer_.get() : nullptr;
  }
  int32_t context_length(const std::string&) const override { return 1024; }
  StatusOr<uint64_t> Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) override {
    if (!tokenizer(request.model)) return Status::InvalidArgument("unknown model");
    if (!submit_status.ok()) return submit_status;
    sinks[next_id] = std::move(sink);
    return next_id++;
  }
  void Cancel(uint64_t id) override { cancelled.push_back(id); }
  EngineStats Stats() const override { return stats; }

  Status submit_status;
  std::map<uint64_t, std::shared_ptr<RequestSink>> sinks;
  std::vector<uint64_t> cancelled;
  EngineStats stats;
  uint64_t next_id = 1;

 private:
  std::unique_ptr<model::Tokenizer> tokenizer_;
};

class CountingSink : public RequestSink {
 public:
  void OnToken(const TokenEvent&) override { ++tokens; }
  void OnFinish(const FinishEvent& e) override {
    ++finishes;
    last = e;
  }
  int tokens = 0;
  int finishes = 0;
  FinishEvent last;
};

GenerationRequest Request(int num_prompt_tokens, std::string model = "smol") {
  GenerationRequest r;
  r.model = std::move(model);
  r.prompt.assign(static_cast<size_t>(num_prompt_tokens), 5);
  return r;
}

class MeteredEngineTest : public ::testing::Test {
 protected:
  ScriptedEngine inner_;
  QueueGate gate_{{2, 100}};
  ServerMetrics metrics_;
  MeteredEngine engine_{&inner_, &gate_, &metrics_};
};

TEST_F(MeteredEngineTest, QueuedUntilTheFirstToken) {
  auto sink = std::make_shared<CountingSink>();
  StatusOr<uint64_t> id = engine_.Submit(Request(30), sink);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(gate_.load().requests, 1);
  EXPECT_EQ(gate_.load().tokens, 30);
  inner_.sinks.at(*id)->OnToken({});
  EXPECT_EQ(gate_.load().requests, 0);
  EXPECT_EQ(gate_.load().tokens, 0);
  inner_.sinks.at(*id)->OnToken({});
  FinishEvent done;
  done.finish_reason = FinishReason::kLength;
  done.latency = {0.01, 0.1, 0.02, 0.3};
  inner_.sinks.at(*id)->OnFinish(done);
  EXPECT_EQ(gate_.load().requests, 0);  // left once only
  EXPECT_EQ(sink->tokens, 2);
  EXPECT_EQ(sink->finishes, 1);
  EXPECT_EQ(sink->last.latency.end_to_end_s, 0.3);  // the route still sees the event
  const MetricRegistry& r = metrics_.registry();
  EXPECT_NE(r.Render().find("hearth_requests_total{model=\"smol\",status=\"ok\"} 1\n"), std::string::npos);
  EXPECT_NE(r.Render().find("hearth_prompt_tokens_total{model=\"smol\"} 30\n"), std::string::npos);
  EXPECT_NE(r.Render().find("hearth_time_to_first_token_seconds_count{model=\"smol\"} 1\n"), std::string::npos);
}

TEST_F(MeteredEngineTest, FinishWithoutATokenLeavesTheQueue) {
  auto sink = std::make_shared<CountingSink>();
  StatusOr<uint64_t> id = engine_.Submit(Request(10), sink);
  ASSERT_TRUE(id.ok());
  FinishEvent cancelled;
  cancelled.finish_reason = FinishReason::kCancelled;
  inner_.sinks.at(*id)->OnFinish(cancelled);
  EXPECT_EQ(gate_.load().requests, 0);
  EXPECT_EQ(gate_.load().tokens, 0);
  EXPECT_NE(metrics_.registry().Render().find("hearth_requests_total{model=\"smol\",status=\"cancelled\"} 1\n"),
            std::string::npos);
}

TEST_F(MeteredEngineTest, FullQueueIsRejectedAtOnceAndCounted) {
  ASSERT_TRUE(engine_.Submit(Request(10), std::make_shared<CountingSink>()).ok());
  ASSERT_TRUE(engine_.Submit(Request(10), std::make_shared<CountingSink>()).ok());
  StatusOr<uint64_t> third = engine_.Submit(Request(10), std::make_shared<CountingSink>());
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), Status::Code::kResourceExhausted);
  EXPECT_EQ(inner_.sinks.size(), 2u);  // the engine never saw it
  // A token frees a place.
  inner_.sinks.at(1)->OnToken({});
  EXPECT_TRUE(engine_.Submit(Request(10), std::make_shared<CountingSink>()).ok());
  const std::string text = metrics_.registry().Render();
  EXPECT_NE(text.find("hearth_requests_rejected_total{model=\"smol\",reason=\"queued_requests\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("hearth_requests_total{model=\"smol\",status=\"rejected\"} 1\n"), std::string::npos);
}

TEST_F(MeteredEngineTest, TokenLimit) {
  ASSERT_TRUE(engine_.Submit(Request(80), std::make_shared<CountingSink>()).ok());
  StatusOr<uint64_t> over = engine_.Submit(Request(21), std::make_shared<CountingSink>());
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.status().message().find("max_queued_tokens"), std::string::npos);
  EXPECT_TRUE(engine_.Submit(Request(20), std::make_shared<CountingSink>()).ok());
}

TEST_F(MeteredEngineTest, EngineRefusalLeavesTheQueueAndCountsUnavailable) {
  inner_.submit_status = Status::Unavailable("the engine is not running");
  StatusOr<uint64_t> id = engine_.Submit(Request(10), std::make_shared<CountingSink>());
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(gate_.load().requests, 0);
  EXPECT_EQ(gate_.load().tokens, 0);
  EXPECT_NE(
      metrics_.registry().Render().find("hearth_requests_rejected_total{model=\"smol\",reason=\"unavailable\"} 1\n"),
      std::string::npos);
}

TEST_F(MeteredEngineTest, UnknownModelIsTheEnginesErrorAndNoLabel) {
  StatusOr<uint64_t> id = engine_.Submit(Request(10, "nope"), std::make_shared<CountingSink>());
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(gate_.load().requests, 0);
  EXPECT_EQ(metrics_.registry().Render().find("nope"), std::string::npos);
}

TEST_F(MeteredEngineTest, ForwardsTheRest) {
  inner_.stats.num_running = 3;
  EXPECT_EQ(engine_.Stats().num_running, 3);
  engine_.Cancel(9);
  EXPECT_EQ(inner_.cancelled, std::vector<uint64_t>{9});
  EXPECT_EQ(engine_.context_length("smol"), 1024);
  EXPECT_NE(engine_.tokenizer("smol"), nullptr);
}

}  // namespace
}  // namespace hearth::daemon
