// The forward pass: batch and chunk invariance, bad batches, and model files
// of several weight types (random weights, so no download is needed).
#include "gpu_worker/llama_runner.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <numeric>
#include <unistd.h>

#include "gpu_worker/loaded_model.h"
#include "tests/model_path.h"
#include "tools/random_model.h"

namespace hearth::worker {
namespace {

// A model, a cache with room for several sequences, and helpers to run them.
class RunnerHarness {
 public:
  explicit RunnerHarness(const std::string& path) {
    auto m = LoadedModel::Load(path);
    status = m.status();
    if (!m.ok()) return;
    model = std::move(m).value();
    const model::LlamaConfig& c = model->weights->config;
    KvCacheOptions o;
    o.num_layers = static_cast<int32_t>(c.num_layers);
    o.num_kv_heads = static_cast<int32_t>(c.num_kv_heads);
    o.head_dim = static_cast<int32_t>(c.head_dim);
    o.block_size = 16;
    o.num_blocks = 64;
    cache = std::move(KvCache::Create(o)).value();
    runner = std::make_unique<LlamaRunner>(*model->weights, *cache, pool);
  }

  int64_t vocab() const { return model->weights->config.vocab_size; }

  // Prefills `prompt` into blocks [first_block, first_block + 16) in chunks of
  // `chunk`, alone; returns the last position's logits.
  std::vector<float> RunAlone(const std::vector<int32_t>& prompt, int64_t chunk, int32_t first_block) {
    std::vector<int32_t> table(16);
    std::iota(table.begin(), table.end(), first_block);
    std::vector<float> logits(vocab());
    for (int64_t start = 0; start < static_cast<int64_t>(prompt.size()); start += chunk) {
      int64_t len = std::min<int64_t>(chunk, static_cast<int64_t>(prompt.size()) - start);
      Batch b;
      b.seqs.push_back({start, std::span<const int32_t>(prompt.data() + start, len), table,
                        start + len == static_cast<int64_t>(prompt.size())});
      EXPECT_TRUE(runner->Forward(b, logits.data()).ok());
    }
    return logits;
  }

  Status status;
  kernels::ThreadPool pool{2};
  std::unique_ptr<LoadedModel> model;
  std::unique_ptr<KvCache> cache;
  std::unique_ptr<LlamaRunner> runner;
};

std::vector<int32_t> Tokens(int n, int salt, int64_t vocab) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = static_cast<int32_t>((i * 7919 + salt * 104729 + 13) % vocab);
  return t;
}

void ExpectInvariance(RunnerHarness& h) {
  ASSERT_TRUE(h.status.ok()) << h.status.ToString();
  const int64_t vocab = h.vocab();
  std::vector<int32_t> prompt = Tokens(45, 1, vocab);
  std::vector<float> whole = h.RunAlone(prompt, 1000, 0);

  // Chunked prefill gives the same bits.
  for (int64_t chunk : {1, 7, 33}) {
    std::vector<float> chunked = h.RunAlone(prompt, chunk, 16);
    ASSERT_EQ(std::memcmp(whole.data(), chunked.data(), vocab * sizeof(float)), 0) << "chunk " << chunk;
  }

  // Inside a mixed batch: two other sequences, one a decode step, one a
  // prefill chunk, placed before and after ours.
  std::vector<int32_t> other_prompt = Tokens(20, 2, vocab);
  h.RunAlone(other_prompt, 1000, 32);  // fills blocks 32.. for the decode neighbour
  std::vector<int32_t> t_ours(16), t_dec(16), t_pre(16);
  std::iota(t_ours.begin(), t_ours.end(), 16);
  std::iota(t_dec.begin(), t_dec.end(), 32);
  std::iota(t_pre.begin(), t_pre.end(), 48);
  std::vector<int32_t> dec_token = {5};
  std::vector<int32_t> pre_tokens = Tokens(9, 3, vocab);
  Batch b;
  b.seqs.push_back({20, dec_token, t_dec, true});
  b.seqs.push_back({0, prompt, t_ours, true});
  b.seqs.push_back({0, pre_tokens, t_pre, false});
  std::vector<float> logits(2 * vocab);
  ASSERT_TRUE(h.runner->Forward(b, logits.data()).ok());
  EXPECT_EQ(std::memcmp(whole.data(), logits.data() + vocab, vocab * sizeof(float)), 0)
      << "a sequence's logits changed with its batch";
}

std::string TempModel(kernels::GgmlType type, const char* name) {
  StatusOr<std::string> path = tools::WriteSmallTestModel(name, 11, type);
  EXPECT_TRUE(path.ok()) << path.status().ToString();
  return path.ok() ? *path : std::string();
}

TEST(LlamaRunnerTest, InvariantOnRandomModelsOfEveryQuantType) {
  for (auto [type, name] :
       {std::pair{kernels::GgmlType::kF32, "rand-f32"}, std::pair{kernels::GgmlType::kQ8_0, "rand-q8_0"},
        std::pair{kernels::GgmlType::kQ4_1, "rand-q4_1"}}) {
    SCOPED_TRACE(name);
    std::string path = TempModel(type, name);
    RunnerHarness h(path);
    ExpectInvariance(h);
    std::filesystem::remove(path);
  }
}

TEST(LlamaRunnerTest, InvariantOnSmolLM2) {
  if (!testing::DefaultModelPresent()) GTEST_SKIP() << "default model not present";
  RunnerHarness h(testing::DefaultModelPath());
  ExpectInvariance(h);
}

TEST(LlamaRunnerTest, RejectsBadBatches) {
  std::string path = TempModel(kernels::GgmlType::kF32, "rand-bad");
  RunnerHarness h(path);
  ASSERT_TRUE(h.status.ok());
  std::vector<float> logits(h.vocab());
  std::vector<int32_t> table = {0};
  std::vector<int32_t> bad_token = {static_cast<int32_t>(h.vocab())};
  Batch b;
  b.seqs.push_back({0, bad_token, table, true});
  EXPECT_TRUE(h.runner->Forward(b, logits.data()).IsInvalidArgument());

  std::vector<int32_t> long_prompt = Tokens(17, 1, h.vocab());  // needs 2 blocks, has 1
  b.seqs = {{0, long_prompt, table, true}};
  EXPECT_TRUE(h.runner->Forward(b, logits.data()).IsInvalidArgument());

  std::vector<int32_t> bad_block = {9999};
  std::vector<int32_t> one = {1};
  b.seqs = {{0, one, bad_block, true}};
  EXPECT_TRUE(h.runner->Forward(b, logits.data()).IsInvalidArgument());

  b.seqs = {{600, one, table, true}};  // past the 512-token context
  EXPECT_TRUE(h.runner->Forward(b, logits.data()).IsInvalidArgument());
  std::filesystem::remove(path);
}

TEST(LoadedModelTest, MissingFileNamesThePath) {
  auto m = LoadedModel::Load("/no/such/model.gguf");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("/no/such/model.gguf"), std::string::npos);
}

}  // namespace
}  // namespace hearth::worker
