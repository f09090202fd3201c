// The engine loop against an in-process StepExecutor on a small random model:
// validation, finishing, cancellation, batch invariance and step failures.
#include "daemon/engine/engine_loop.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "gpu_worker/step_executor.h"
#include "model/tokenizer_gguf.h"
#include "tools/random_model.h"
#include "daemon/testing/recording_sink.h"

namespace hearth::daemon {
namespace {

// A worker that answers in process; can be told to fail steps.
class InProcessWorker : public WorkerConnection {
 public:
  StatusOr<wire::ModelInfo> LoadModel(const wire::LoadModelRequest& request) override {
    return executor_.LoadModel(request);
  }
  StatusOr<wire::StepReply> Step(const wire::StepRequest& request) override {
    ++num_steps;
    if (fail_steps) return Status::Unavailable("worker crashed (test)");
    if (step_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(step_delay_ms.load()));
    return executor_.Step(request);
  }
  std::atomic<bool> fail_steps{false};
  std::atomic<int> step_delay_ms{0};  // a slow worker: a request outlasts a model command
  std::atomic<int> num_steps{0};

 private:
  worker::StepExecutor executor_{2};
};


class EngineLoopTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    StatusOr<std::string> path = tools::WriteSmallTestModel("loop", 9);
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    path_ = *path;
  }
  static void TearDownTestSuite() { std::filesystem::remove(path_); }

  void SetUp() override {
    StatusOr<wire::ModelInfo> info = worker_.LoadModel({"rand", path_, 64 << 10});  // 16 blocks
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    info_ = *info;
    auto tok = model::LoadTokenizerFromGguf(path_);
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    ASSERT_TRUE(loop_.AddModel(info_, std::move(tok).value()).ok());
    loop_.Start();
  }

  static GenerationRequest Request(std::vector<int32_t> prompt, int32_t max_tokens, float temperature, uint64_t seed) {
    GenerationRequest r;
    r.model = "rand";
    r.prompt = std::move(prompt);
    r.max_tokens = max_tokens;
    r.sampling.temperature = temperature;
    r.sampling.seed = seed;
    return r;
  }

  std::shared_ptr<RecordingSink> Run(GenerationRequest r) {
    auto sink = std::make_shared<RecordingSink>();
    StatusOr<uint64_t> id = loop_.Submit(std::move(r), sink);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return sink;
  }

  bool WaitAllBlocksFree(int ms = 10000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < deadline) {
      EngineStats s = loop_.Stats();
      if (s.kv_blocks_free == s.kv_blocks_total && s.num_running == 0 && s.num_waiting == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  static std::string path_;
  InProcessWorker worker_;
  EngineLoop loop_{&worker_};
  wire::ModelInfo info_;
};

std::string EngineLoopTest::path_;

// Models come and go while the loop runs (docs/models.md).
TEST_F(EngineLoopTest, AddsAndRemovesModelsWhileRunning) {
  StatusOr<wire::ModelInfo> info = worker_.LoadModel({"rand2", path_, 64 << 10});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  auto tok = model::LoadTokenizerFromGguf(path_);
  ASSERT_TRUE(tok.ok());
  std::shared_ptr<const model::Tokenizer> shared = std::move(tok).value();
  ASSERT_TRUE(loop_.AddModel(*info, shared).ok());
  EXPECT_TRUE(loop_.AddModel(*info, shared).IsInvalidArgument()) << "added twice";
  GenerationRequest r = Request({1, 2, 3}, 4, 0, 0);
  r.model = "rand2";
  auto sink = Run(r);
  ASSERT_TRUE(sink->WaitFinished());
  EXPECT_EQ(sink->finish().finish_reason, FinishReason::kLength);

  // A running request of a removed model ends with the reason given; the other model goes on.
  worker_.step_delay_ms = 5;
  r.max_tokens = 200;
  auto running = Run(r);
  auto other = Run(Request({1, 2, 3}, 8, 0, 0));
  ASSERT_TRUE(running->WaitTokens(1));
  ASSERT_TRUE(loop_.RemoveModel("rand2", Status::Unavailable("removed (test)")).ok());
  ASSERT_TRUE(running->WaitFinished());
  EXPECT_EQ(running->finish().finish_reason, FinishReason::kError);
  EXPECT_NE(running->finish().status.message().find("removed (test)"), std::string::npos);
  ASSERT_TRUE(other->WaitFinished());
  EXPECT_EQ(other->finish().finish_reason, FinishReason::kLength);
  worker_.step_delay_ms = 0;
  EXPECT_EQ(loop_.tokenizer("rand2"), nullptr);
  // A model gone between placement and submit is a passing state (an unload or a reload): 503.
  EXPECT_EQ(loop_.Submit(r, std::make_shared<RecordingSink>()).status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(loop_.RemoveModel("rand2", Status::Ok()).code(), Status::Code::kNotFound);
  EXPECT_TRUE(WaitAllBlocksFree());
}

TEST_F(EngineLoopTest, SubmitValidates) {
  auto sink = std::make_shared<RecordingSink>();
  GenerationRequest r = Request({1, 2, 3}, 4, 0, 0);
  r.model = "nope";
  EXPECT_EQ(loop_.Submit(r, sink).status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(loop_.Submit(Request({}, 4, 0, 0), sink).status().IsInvalidArgument());
  StatusOr<uint64_t> too_long = loop_.Submit(Request(std::vector<int32_t>(250, 5), 10, 0, 0), sink);
  ASSERT_TRUE(too_long.status().IsInvalidArgument());
  EXPECT_NE(too_long.status().message().find("context of 256"), std::string::npos) << too_long.status().message();
  EXPECT_TRUE(loop_.Submit(Request({1, 999}, 4, 0, 0), sink).status().IsInvalidArgument());
  r = Request({1, 2}, 4, 0, 0);
  r.stop = {""};
  EXPECT_TRUE(loop_.Submit(r, sink).status().IsInvalidArgument());
  EXPECT_EQ(loop_.context_length("rand"), 256);
  EXPECT_NE(loop_.tokenizer("rand"), nullptr);
  EXPECT_EQ(loop_.tokenizer("nope"), nullptr);
}

TEST_F(EngineLoopTest, GeneratesUntilLengthOrEos) {
  auto sink = Run(Request({10, 20, 30}, 12, 0, 0));
  ASSERT_TRUE(sink->WaitFinished());
  FinishEvent f = sink->finish();
  EXPECT_TRUE(f.status.ok()) << f.status.ToString();
  EXPECT_EQ(f.prompt_tokens, 3);
  if (f.finish_reason == FinishReason::kLength) {
    EXPECT_EQ(sink->tokens().size(), 12u);
    EXPECT_EQ(f.completion_tokens, 12);
  } else {
    EXPECT_EQ(f.finish_reason, FinishReason::kStop);
    EXPECT_EQ(f.completion_tokens, static_cast<int32_t>(sink->tokens().size()) + 1);  // + EOS
  }
  EXPECT_TRUE(WaitAllBlocksFree());
  EXPECT_GE(loop_.Stats().tokens_generated, static_cast<int64_t>(sink->tokens().size()));
}

TEST_F(EngineLoopTest, SeededSamplingIsBatchInvariant) {
  GenerationRequest probe = Request({3, 1, 4, 1, 5, 9, 2, 6}, 20, 0.8f, 42);
  probe.sampling.top_k = 50;
  auto alone = Run(probe);
  ASSERT_TRUE(alone->WaitFinished());
  std::vector<std::shared_ptr<RecordingSink>> others;
  for (int i = 0; i < 7; ++i) {
    GenerationRequest r = Request(std::vector<int32_t>(5 + 17 * i, 30 + i), 5 + 3 * i, i % 2 ? 0.0f : 1.1f, 7 + i);
    if (i == 3) r.sampling.repetition_penalty = 1.2f;
    others.push_back(Run(r));
  }
  auto batched = Run(probe);
  for (auto& s : others) ASSERT_TRUE(s->WaitFinished());
  ASSERT_TRUE(batched->WaitFinished());
  EXPECT_EQ(batched->tokens(), alone->tokens());
  EXPECT_EQ(batched->text(), alone->text());
  EXPECT_TRUE(WaitAllBlocksFree());
}

// The scheduler options reach the scheduler: with a budget of 16, chunked prefill runs a 40-token
// prompt in 3 steps; without it, the prompt runs whole in one (alone, over the budget). AddModel's
// per-model budget (the daemon's measured one) overrides the options'. With an idle budget of 512
// the lone prompt (nothing else decodes) is one step even when chunked. The text is the same.
TEST_F(EngineLoopTest, ChunkedPrefillAndBudgetOptionsReachTheScheduler) {
  auto run = [&](EngineLoopOptions options, int32_t model_budget, int* steps) {
    InProcessWorker worker;
    StatusOr<wire::ModelInfo> info = worker.LoadModel({"rand", path_, 64 << 10});
    EXPECT_TRUE(info.ok());
    EngineLoop loop(&worker, options);
    auto tok = model::LoadTokenizerFromGguf(path_);
    EXPECT_TRUE(tok.ok());
    EXPECT_TRUE(loop.AddModel(*info, std::move(tok).value(), model_budget).ok());
    loop.Start();
    auto sink = std::make_shared<RecordingSink>();
    std::vector<int32_t> prompt(40);
    for (int32_t i = 0; i < 40; ++i) prompt[static_cast<size_t>(i)] = 3 + (i * 7) % 50;
    EXPECT_TRUE(loop.Submit(Request(prompt, 6, 0, 0), sink).ok());
    EXPECT_TRUE(sink->WaitFinished());
    loop.Stop();
    *steps = worker.num_steps;
    return sink->tokens();
  };
  EngineLoopOptions chunked;
  chunked.token_budget = 16;
  chunked.idle_token_budget = 0;  // the token budget even while nothing decodes
  EngineLoopOptions whole = chunked;
  whole.chunked_prefill = false;
  EngineLoopOptions big;  // 512 by default, overridden per model below
  big.idle_token_budget = 0;
  EngineLoopOptions idle = chunked;
  idle.idle_token_budget = 512;
  int chunked_steps = 0, whole_steps = 0, override_steps = 0, idle_steps = 0;
  auto a = run(chunked, 0, &chunked_steps);
  auto b = run(whole, 0, &whole_steps);
  auto c = run(big, 16, &override_steps);
  auto d = run(idle, 0, &idle_steps);
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  EXPECT_EQ(a, d);
  EXPECT_EQ(chunked_steps - whole_steps, 2);  // 16 + 16 + 8 versus 40 at once
  EXPECT_EQ(override_steps, chunked_steps);
  EXPECT_EQ(idle_steps, whole_steps);
}

// An embedding request samples nothing and sends no token; its vector is the same alone, in a
// loop that chunks it (budget 16) beside a generating request, and with two of its kind.
TEST_F(EngineLoopTest, EmbeddingsAreChunkedBatchedAndIdentical) {
  std::vector<int32_t> prompt(40);
  for (int32_t i = 0; i < 40; ++i) prompt[static_cast<size_t>(i)] = 3 + (i * 11) % 50;
  GenerationRequest embed = Request(prompt, 1, 0, 0);
  embed.pooling = Pooling::kMean;
  auto alone = Run(embed);
  ASSERT_TRUE(alone->WaitFinished());
  EXPECT_EQ(alone->finish().finish_reason, FinishReason::kStop);
  EXPECT_TRUE(alone->finish().status.ok()) << alone->finish().status.ToString();
  EXPECT_TRUE(alone->tokens().empty());
  EXPECT_EQ(alone->finish().completion_tokens, 0);
  EXPECT_EQ(alone->finish().prompt_tokens, 40);
  const std::vector<float> want = alone->finish().embedding;
  ASSERT_EQ(want.size(), static_cast<size_t>(info_.hidden_size));
  EXPECT_EQ(loop_.embedding_size("rand"), info_.hidden_size);

  InProcessWorker worker;
  StatusOr<wire::ModelInfo> info = worker.LoadModel({"rand", path_, 64 << 10});
  ASSERT_TRUE(info.ok());
  EngineLoopOptions options;
  options.token_budget = 16;
  EngineLoop loop(&worker, options);
  auto tok = model::LoadTokenizerFromGguf(path_);
  ASSERT_TRUE(tok.ok());
  ASSERT_TRUE(loop.AddModel(*info, std::move(tok).value()).ok());
  loop.Start();
  auto generating = std::make_shared<RecordingSink>();
  ASSERT_TRUE(loop.Submit(Request({7, 8, 9}, 30, 0.9f, 5), generating).ok());
  std::vector<std::shared_ptr<RecordingSink>> batched;
  for (int i = 0; i < 2; ++i) {
    batched.push_back(std::make_shared<RecordingSink>());
    ASSERT_TRUE(loop.Submit(embed, batched.back()).ok());
  }
  GenerationRequest last = embed;
  last.pooling = Pooling::kLast;
  auto last_sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(loop.Submit(last, last_sink).ok());
  for (auto& s : batched) {
    ASSERT_TRUE(s->WaitFinished());
    EXPECT_EQ(s->finish().embedding, want);
  }
  ASSERT_TRUE(last_sink->WaitFinished());
  EXPECT_EQ(last_sink->finish().embedding.size(), want.size());
  EXPECT_NE(last_sink->finish().embedding, want);
  ASSERT_TRUE(generating->WaitFinished());
  EXPECT_EQ(generating->tokens().size(), 30u);

  // The prompt alone must fit the context: max_tokens does not count.
  GenerationRequest too_long = embed;
  too_long.prompt.assign(static_cast<size_t>(loop.context_length("rand")) + 1, 5);
  EXPECT_TRUE(loop.Submit(too_long, std::make_shared<RecordingSink>()).status().IsInvalidArgument());
  loop.Stop();
}

TEST_F(EngineLoopTest, CancelFreesBlocks) {
  auto sink = Run(Request({1, 2, 3, 4}, 200, 1.0f, 1));
  ASSERT_TRUE(sink->WaitTokens(2));
  StatusOr<uint64_t> other = loop_.Submit(Request({5, 6}, 4, 0, 0), std::make_shared<RecordingSink>());
  ASSERT_TRUE(other.ok());
  loop_.Cancel(1);      // the first id
  loop_.Cancel(12345);  // unknown: ignored
  ASSERT_TRUE(sink->WaitFinished());
  if (sink->finish().finish_reason == FinishReason::kCancelled) {
    EXPECT_LT(sink->tokens().size(), 200u);
  }
  EXPECT_TRUE(WaitAllBlocksFree());
}

TEST_F(EngineLoopTest, StopStringEndsGenerationAndIsCut) {
  // Find what the model says greedily, then stop on a piece of it.
  auto probe = Run(Request({7, 8, 9}, 30, 0, 0));
  ASSERT_TRUE(probe->WaitFinished());
  std::string full = probe->text();
  if (full.size() < 4) GTEST_SKIP() << "the random model said too little";
  std::string stop = full.substr(2, 2);
  GenerationRequest r = Request({7, 8, 9}, 30, 0, 0);
  r.stop = {stop};
  auto sink = Run(r);
  ASSERT_TRUE(sink->WaitFinished());
  EXPECT_EQ(sink->finish().finish_reason, FinishReason::kStop);
  EXPECT_EQ(sink->text(), full.substr(0, full.find(stop)));
}

TEST_F(EngineLoopTest, FailedStepFinishesItsRequestsWithError) {
  worker_.fail_steps = true;
  auto a = Run(Request({1, 2, 3}, 5, 0, 0));
  auto b = Run(Request({4, 5}, 5, 0, 0));
  ASSERT_TRUE(a->WaitFinished());
  ASSERT_TRUE(b->WaitFinished());
  EXPECT_EQ(a->finish().finish_reason, FinishReason::kError);
  EXPECT_EQ(b->finish().finish_reason, FinishReason::kError);
  EXPECT_EQ(a->finish().status.code(), Status::Code::kUnavailable);
  EXPECT_TRUE(WaitAllBlocksFree());
  worker_.fail_steps = false;
  auto c = Run(Request({1, 2, 3}, 3, 0, 0));
  ASSERT_TRUE(c->WaitFinished());
  EXPECT_NE(c->finish().finish_reason, FinishReason::kError);
}

TEST_F(EngineLoopTest, StopFinishesEverythingAndRefusesMore) {
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  for (int i = 0; i < 4; ++i) sinks.push_back(Run(Request({1, 2, 3}, 200, 1.0f, i)));
  loop_.Stop();
  for (auto& s : sinks) {
    ASSERT_TRUE(s->WaitFinished(1000));
    std::string reason = FinishReasonName(s->finish().finish_reason);
    EXPECT_TRUE(reason == "error" || reason == "length" || reason == "stop") << reason;
  }
  EXPECT_EQ(loop_.Submit(Request({1}, 1, 0, 0), std::make_shared<RecordingSink>()).status().code(),
            Status::Code::kUnavailable);
}

// Steps carry changes (docs/engine.md, "Step messages"); the worker keeps each sequence's blocks
// and history. Requests with every penalty on (they read the whole history), batched in a cache
// small enough to preempt them (sent full again when readmitted), sample what each samples alone
// from a worker sent its whole state every step. Ended sequences leave the worker.
TEST_F(EngineLoopTest, DeltaStepsSampleWhatFullStepsSample) {
  struct Worker : WorkerConnection {
    StatusOr<wire::ModelInfo> LoadModel(const wire::LoadModelRequest& r) override { return executor.LoadModel(r); }
    StatusOr<wire::StepReply> Step(const wire::StepRequest& r) override {
      for (const wire::StepSequence& s : r.seqs) (s.full ? num_full : num_delta)++;
      return executor.Step(r);
    }
    worker::StepExecutor executor{2};
    int num_full = 0, num_delta = 0;
  } worker;
  StatusOr<wire::ModelInfo> info = worker.LoadModel({"rand", path_, 64 << 10});  // 16 blocks
  ASSERT_TRUE(info.ok());
  EngineLoopOptions options;
  options.token_budget = 24;
  EngineLoop loop(&worker, options);
  auto tok = model::LoadTokenizerFromGguf(path_);
  ASSERT_TRUE(tok.ok());
  ASSERT_TRUE(loop.AddModel(*info, std::move(tok).value()).ok());
  loop.Start();

  std::vector<GenerationRequest> requests;
  for (int i = 0; i < 5; ++i) {
    std::vector<int32_t> prompt;
    for (int j = 0; j < 20 + 7 * i; ++j) prompt.push_back(3 + (j * 13 + i) % 60);
    GenerationRequest r = Request(prompt, 30, 0.9f, 100 + i);
    r.sampling.repetition_penalty = 1.3f;
    r.sampling.frequency_penalty = 0.5f;
    r.sampling.presence_penalty = 0.3f;
    requests.push_back(r);
  }
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  for (const GenerationRequest& r : requests) {
    sinks.push_back(std::make_shared<RecordingSink>());
    ASSERT_TRUE(loop.Submit(r, sinks.back()).ok());
  }
  for (auto& s : sinks) ASSERT_TRUE(s->WaitFinished());
  const std::vector<int32_t> stops = loop.stop_token_ids("rand");

  // Each alone, one token a step, every step full.
  worker::StepExecutor reference(2);
  ASSERT_TRUE(reference.LoadModel({"rand", path_, 64 << 10}).ok());
  for (size_t i = 0; i < requests.size(); ++i) {
    const GenerationRequest& r = requests[i];
    std::vector<int32_t> tokens = r.prompt, generated;
    int32_t computed = 0;
    while (static_cast<int32_t>(generated.size()) < r.max_tokens) {
      wire::StepSequence s;
      s.request_id = i;
      s.start_pos = computed;
      s.tokens.assign(tokens.begin() + computed, tokens.end());
      for (int32_t b = 0; b * 16 < static_cast<int32_t>(tokens.size()); ++b) s.block_table.push_back(b);
      s.history.assign(tokens.begin(), tokens.begin() + computed);
      s.num_prompt_tokens = static_cast<int32_t>(r.prompt.size());
      s.sampling = r.sampling;
      s.want_logits = true;
      s.sample_position = static_cast<int64_t>(tokens.size());
      StatusOr<wire::StepReply> reply = reference.Step({"rand", {s}});
      ASSERT_TRUE(reply.ok()) << reply.status().ToString();
      computed = static_cast<int32_t>(tokens.size());
      const int32_t t = reply->sampled[0].token;
      if (std::find(stops.begin(), stops.end(), t) != stops.end()) break;
      tokens.push_back(t);
      generated.push_back(t);
    }
    EXPECT_EQ(sinks[i]->tokens(), generated) << "request " << i;
    EXPECT_NE(sinks[i]->finish().finish_reason, FinishReason::kError) << sinks[i]->finish().status.ToString();
  }
  EXPECT_GT(worker.num_delta, 4 * worker.num_full);
  EXPECT_GT(worker.num_full, static_cast<int>(requests.size())) << "some were preempted and sent full again";

  // The finished sequences are released with the next step: only that step's own is left.
  auto last = std::make_shared<RecordingSink>();
  ASSERT_TRUE(loop.Submit(Request({1, 2, 3}, 2, 0, 0), last).ok());
  ASSERT_TRUE(last->WaitFinished());
  EXPECT_LE(worker.executor.num_sequences("rand"), 1u);
  loop.Stop();
}

}  // namespace
}  // namespace hearth::daemon
