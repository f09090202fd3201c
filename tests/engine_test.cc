// The engine end to end: a real hearth-worker process, SmolLM2, the engine
// loop. Greedy text, batch invariance of seeded sampling across a mixed batch,
// cancellation and stop strings.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "daemon/engine/engine_loop.h"
#include "daemon/worker/worker_process.h"
#include "gpu_worker/generator.h"
#include "kernels/cpu/thread_pool.h"
#include "model/tokenizer_gguf.h"
#include "tests/model_path.h"
#include "daemon/testing/recording_sink.h"

namespace hearth::daemon {
namespace {


std::string WorkerBinary() {
  const char* dir = std::getenv("HEARTH_BINARY_DIR");
  return std::string(dir ? dir : ".") + "/bin/hearth-worker";
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::DefaultModelPresent()) GTEST_SKIP() << "default model not present";
    auto worker = WorkerProcess::Spawn(WorkerBinary(), {"--threads", "2", "--kv-cache-mb", "64"});
    ASSERT_TRUE(worker.ok()) << worker.status().ToString();
    worker_ = std::move(worker).value();
    const std::string path = testing::DefaultModelPath();
    auto info = worker_->LoadModel({"smol", path, 0});
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    auto tok = model::LoadTokenizerFromGguf(path);
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    engine_ = std::make_unique<EngineLoop>(worker_.get());
    ASSERT_TRUE(engine_->AddModel(*info, std::move(tok).value()).ok());
    engine_->Start();
  }
  void TearDown() override {
    if (engine_) engine_->Stop();
    if (worker_) worker_->Stop();
  }

  GenerationRequest Request(const std::string& text, int32_t max_tokens, float temperature, uint64_t seed) {
    GenerationRequest r;
    r.model = "smol";
    r.prompt = engine_->tokenizer("smol")->Encode(text, true, false);
    r.max_tokens = max_tokens;
    r.sampling.temperature = temperature;
    r.sampling.seed = seed;
    return r;
  }

  std::pair<std::shared_ptr<RecordingSink>, uint64_t> Submit(GenerationRequest r) {
    auto sink = std::make_shared<RecordingSink>();
    StatusOr<uint64_t> id = engine_->Submit(std::move(r), sink);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return {sink, id.ok() ? *id : 0};
  }

  bool WaitAllBlocksFree(int ms = 10000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < deadline) {
      EngineStats s = engine_->Stats();
      if (s.kv_blocks_free == s.kv_blocks_total && s.num_running == 0 && s.num_waiting == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  std::unique_ptr<WorkerProcess> worker_;
  std::unique_ptr<EngineLoop> engine_;
};

TEST_F(EngineTest, GreedyKnowsTheCapitalOfFrance) {
  auto [sink, id] = Submit(Request("The capital of France is", 8, 0, 0));
  ASSERT_TRUE(sink->WaitFinished());
  EXPECT_EQ(sink->finish().finish_reason, FinishReason::kLength) << sink->finish().status.ToString();
  EXPECT_EQ(sink->finish().completion_tokens, 8);
  EXPECT_EQ(sink->text().rfind(" Paris", 0), 0u) << sink->text();
  EXPECT_TRUE(WaitAllBlocksFree());
}

TEST_F(EngineTest, SeededSamplingIsTheSameAloneAndInAMixedBatch) {
  GenerationRequest probe = Request("Once upon a time, in a small village,", 24, 0.8f, 42);
  auto [alone, id0] = Submit(probe);
  ASSERT_TRUE(alone->WaitFinished());
  ASSERT_NE(alone->finish().finish_reason, FinishReason::kError);
  ASSERT_GE(alone->finish().completion_tokens, 8) << "too short to show anything: " << alone->text();

  const char* prompts[] = {"Hello", "Write a haiku about the sea.", "1, 2, 3, 4,",
                           "The quick brown fox jumps over the lazy dog. The quick brown fox"};
  std::vector<std::shared_ptr<RecordingSink>> others;
  for (int i = 0; i < 15; ++i) {
    if (i == 7) {
      auto [batched, id] = Submit(probe);  // in the middle of the crowd
      others.push_back(batched);
    }
    GenerationRequest r = Request(std::string(prompts[i % 4]) + std::string(static_cast<size_t>(i) * 7, ' ') + "x",
                                  4 + (i * 5) % 23, i % 3 == 0 ? 0.0f : 0.5f + 0.1f * (i % 5), 1000 + i);
    if (i % 4 == 1) r.sampling.top_k = 20;
    if (i % 4 == 2) r.sampling.top_p = 0.9f;
    if (i % 5 == 3) r.sampling.repetition_penalty = 1.1f;
    if (i % 6 == 4) r.sampling.presence_penalty = 0.5f;
    others.push_back(Submit(r).first);
  }
  for (auto& s : others) ASSERT_TRUE(s->WaitFinished());
  const std::shared_ptr<RecordingSink>& batched = others[7];
  EXPECT_EQ(batched->text(), alone->text());
  EXPECT_EQ(batched->finish().finish_reason, alone->finish().finish_reason);
  EXPECT_EQ(batched->finish().completion_tokens, alone->finish().completion_tokens);
  EXPECT_TRUE(WaitAllBlocksFree());
}

// The worker protocol carries every sampling knob and the RNG position: the
// engine's output equals the offline generator's on the same request.
TEST_F(EngineTest, MatchesTheOfflineGenerator) {
  GenerationRequest r = Request("My favourite recipe is", 20, 0.8f, 42);
  r.sampling.top_k = 40;
  r.sampling.top_p = 0.95f;
  r.sampling.repetition_penalty = 1.1f;
  r.sampling.frequency_penalty = 0.2f;
  auto [sink, id] = Submit(r);
  ASSERT_TRUE(sink->WaitFinished());

  auto model = worker::LoadedModel::Load(testing::DefaultModelPath());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  kernels::ThreadPool pool(1);
  worker::Generator gen(**model, pool, 512);
  ASSERT_TRUE(gen.Init().ok());
  worker::GenerateOptions o;
  o.max_tokens = r.max_tokens;
  o.sampling = r.sampling;
  auto offline = gen.Generate(r.prompt, o);
  ASSERT_TRUE(offline.ok()) << offline.status().ToString();
  EXPECT_EQ(sink->text(), offline->text);
  EXPECT_EQ(FinishReasonName(sink->finish().finish_reason), offline->finish_reason);
}

TEST_F(EngineTest, CancelMidGenerationFreesBlocks) {
  // Counting keeps a small model going for a long time.
  auto [sink, id] = Submit(Request("1, 2, 3, 4, 5, 6, 7, 8,", 400, 0, 0));
  ASSERT_TRUE(sink->WaitTokens(3));
  ASSERT_FALSE(sink->finished()) << "finished before it could be cancelled: " << sink->text();
  EngineStats during = engine_->Stats();
  EXPECT_LT(during.kv_blocks_free, during.kv_blocks_total);
  engine_->Cancel(id);
  ASSERT_TRUE(sink->WaitFinished());
  EXPECT_EQ(sink->finish().finish_reason, FinishReason::kCancelled);
  EXPECT_LT(sink->num_tokens(), 400u);
  EXPECT_TRUE(WaitAllBlocksFree());
}

TEST_F(EngineTest, StopStringEndsGenerationWithoutItsText) {
  auto [probe, id0] = Submit(Request("The capital of France is", 12, 0, 0));
  ASSERT_TRUE(probe->WaitFinished());
  const std::string full = probe->text();
  ASSERT_GE(full.size(), 6u) << full;
  // A stop string that starts inside the output: " Paris" contains "ari".
  const std::string stop = "ari";
  ASSERT_NE(full.find(stop), std::string::npos) << full;
  GenerationRequest r = Request("The capital of France is", 12, 0, 0);
  r.stop = {stop};
  auto [sink, id] = Submit(r);
  ASSERT_TRUE(sink->WaitFinished());
  EXPECT_EQ(sink->finish().finish_reason, FinishReason::kStop);
  EXPECT_EQ(sink->text(), full.substr(0, full.find(stop)));
  EXPECT_EQ(sink->text().find(stop), std::string::npos);
  EXPECT_TRUE(WaitAllBlocksFree());
}

}  // namespace
}  // namespace hearth::daemon
