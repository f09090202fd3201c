// SampleAttention in the forward pass of the real model: prompt rows past the
// first position run it, its logits do not depend on chunking or batching, and
// generated tokens run dense whether decoded or prefilled again (recovery).
#include "gpu_worker/attention_router.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "gpu_worker/llama_runner.h"
#include "gpu_worker/loaded_model.h"
#include "tests/model_path.h"

namespace hearth::worker {
namespace {

constexpr int32_t kPrompt = 400;    // prompt tokens
constexpr int32_t kGenerated = 24;  // tokens after it, as if generated

class SampleAttentionRunner : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::DefaultModelPresent()) GTEST_SKIP() << "default model not present";
    model_ = std::move(LoadedModel::Load(testing::DefaultModelPath())).value();
    const model::LlamaConfig& c = model_->weights->config;
    KvCacheOptions o;
    o.num_layers = static_cast<int32_t>(c.num_layers);
    o.num_kv_heads = static_cast<int32_t>(c.num_kv_heads);
    o.head_dim = static_cast<int32_t>(c.head_dim);
    o.num_blocks = 64;
    cache_ = std::move(KvCache::Create(o)).value();
    tokens_.resize(kPrompt + kGenerated);
    for (size_t i = 0; i < tokens_.size(); ++i) tokens_[i] = static_cast<int32_t>((i * 7919 + 13) % c.vocab_size);
  }

  std::unique_ptr<LlamaRunner> Runner(bool sample) {
    auto r = std::make_unique<LlamaRunner>(*model_->weights, *cache_, pool_);
    LongContextOptions o;
    o.sample_attention = sample;
    o.sample_attention_min_position = 96;
    o.sample_attention_params = {64, 0.9f};
    EXPECT_TRUE(r->SetLongContext(o).ok());
    return r;
  }

  // Runs tokens [0, n) as `chunks` (lengths), the prompt kPrompt long, in blocks from
  // first_block; returns the logits after every chunk, concatenated. `other`: a second
  // sequence (a 40-token prompt in blocks 48..) batched beside every chunk.
  std::vector<float> Run(LlamaRunner& r, const std::vector<int32_t>& chunks, int32_t first_block, bool other) {
    const int64_t vocab = model_->weights->config.vocab_size;
    std::vector<int32_t> table(32), other_table(4);
    std::iota(table.begin(), table.end(), first_block);
    std::iota(other_table.begin(), other_table.end(), 48);
    std::vector<float> all, logits(2 * vocab);
    int64_t pos = 0, other_pos = 0;
    for (int32_t n : chunks) {
      Batch b;
      if (other && other_pos < 40) {
        BatchSequence o{other_pos, std::span<const int32_t>(tokens_.data() + 100 + other_pos, 8), other_table, true};
        o.num_prompt_tokens = 40;
        b.seqs.push_back(o);
        other_pos += 8;
      }
      BatchSequence s{pos, std::span<const int32_t>(tokens_.data() + pos, n), table, true};
      s.num_prompt_tokens = kPrompt;
      b.seqs.push_back(s);
      EXPECT_TRUE(r.Forward(b, logits.data()).ok());
      const float* mine = logits.data() + (b.seqs.size() - 1) * vocab;
      all.insert(all.end(), mine, mine + vocab);
      pos += n;
    }
    return all;
  }

  kernels::ThreadPool pool_{2};
  std::unique_ptr<LoadedModel> model_;
  std::unique_ptr<KvCache> cache_;
  std::vector<int32_t> tokens_;
};

// The prompt whole, then the generated tokens one by one (decode).
std::vector<int32_t> PromptThenDecode() {
  std::vector<int32_t> c = {kPrompt};
  c.insert(c.end(), kGenerated, 1);
  return c;
}

TEST_F(SampleAttentionRunner, ChunkAndBatchInvariantAndDenseAfterThePrompt) {
  std::unique_ptr<LlamaRunner> sample = Runner(true);
  const std::vector<float> decoded = Run(*sample, PromptThenDecode(), 0, false);
  const int64_t vocab = model_->weights->config.vocab_size;
  // Chunks of 37 plus a remainder, batched beside another sequence, then the decodes.
  std::vector<int32_t> chunks(kPrompt / 37, 37);
  chunks.push_back(kPrompt % 37);
  chunks.insert(chunks.end(), kGenerated, 1);
  const std::vector<float> chunked = Run(*sample, chunks, 0, true);
  EXPECT_EQ(std::memcmp(chunked.data() + (chunked.size() - (kGenerated + 1) * vocab),
                        decoded.data(), (kGenerated + 1) * vocab * sizeof(float)),
            0);
  // Recovery: the prompt and the generated tokens in one prefill, other blocks.
  const std::vector<float> recovered = Run(*sample, {kPrompt + kGenerated}, 16, false);
  EXPECT_EQ(std::memcmp(recovered.data(), decoded.data() + kGenerated * vocab, vocab * sizeof(float)), 0);
}

TEST_F(SampleAttentionRunner, ChangesTheLogitsOnlyPastTheFirstPosition) {
  std::unique_ptr<LlamaRunner> sample = Runner(true);
  std::unique_ptr<LlamaRunner> dense = Runner(false);
  const int64_t vocab = model_->weights->config.vocab_size;
  // Rows below 2 segments (128) run dense either way.
  const std::vector<float> short_sample = Run(*sample, {120}, 0, false);
  const std::vector<float> short_dense = Run(*dense, {120}, 0, false);
  EXPECT_EQ(std::memcmp(short_sample.data(), short_dense.data(), vocab * sizeof(float)), 0);
  const std::vector<float> long_sample = Run(*sample, {kPrompt}, 0, false);
  const std::vector<float> long_dense = Run(*dense, {kPrompt}, 0, false);
  EXPECT_NE(std::memcmp(long_sample.data(), long_dense.data(), vocab * sizeof(float)), 0);
}

TEST_F(SampleAttentionRunner, RejectsBadOptions) {
  LlamaRunner r(*model_->weights, *cache_, pool_);
  LongContextOptions o;
  o.sample_attention = true;
  o.sample_attention_params = {40, 0.9f};  // not a multiple of the 16-token block
  EXPECT_TRUE(r.SetLongContext(o).IsInvalidArgument());
  o.sample_attention_params = {64, 1.5f};
  EXPECT_TRUE(r.SetLongContext(o).IsInvalidArgument());
}

}  // namespace
}  // namespace hearth::worker
