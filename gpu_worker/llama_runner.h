// The Llama-family forward pass on the CPU over one batch that mixes prefill
// chunks and single-token decodes of many sequences, with a paged KV cache.
//
// Batch invariance (DESIGN.md, Determinism): every kernel computes a row from
// that row alone, and attention reads K/V back from the cache, so a
// sequence's logits do not depend on its batch or on where its prompt was cut.
#pragma once

#include <memory>
#include <vector>

#include "common/status.h"
#include "gpu_worker/attention_router.h"
#include "gpu_worker/batch.h"
#include "gpu_worker/kv_cache.h"
#include "gpu_worker/llama_weights.h"
#include "gpu_worker/step_profile.h"
#include "kernels/cpu/thread_pool.h"

namespace hearth::worker {

class LlamaRunner {
 public:
  // `weights`, `cache` and `pool` must outlive the runner.
  LlamaRunner(const LlamaWeights& weights, KvCache& cache, kernels::ThreadPool& pool);

  // Runs the batch; writes one row of logits per sequence that wants them, in
  // batch order. logits: [batch.NumLogitRows(), vocab_size]. hidden (may be null when no
  // sequence wants it): [batch.NumHiddenRows(), hidden], the final norm's output for every new
  // token of the sequences that want it, in batch order (the rows embeddings are pooled from).
  Status Forward(const Batch& batch, float* logits, float* hidden = nullptr);

  const model::LlamaConfig& config() const { return weights_.config; }

  // Long-context attention methods for the rows they apply to (attention_router.h);
  // without a call, every row runs dense attention.
  Status SetLongContext(const LongContextOptions& options);

  // Time spent per op is added to `profile` from now on (null: not timed, the default).
  void set_profile(StepProfile* profile) { profile_ = profile; }

 private:
  Status Validate(const Batch& batch) const;
  void Resize(int64_t num_tokens);
  Status RunLayer(int layer, int64_t num_tokens);
  Status Attend(int layer);

  const LlamaWeights& weights_;
  KvCache& cache_;
  kernels::ThreadPool& pool_;
  StepProfile* profile_ = nullptr;

  // Per-step scratch, grown as needed and reused.
  int64_t capacity_ = 0;
  std::vector<int32_t> tokens_;                 // [n]
  std::vector<int32_t> positions_;              // [n]
  std::unique_ptr<AttentionRouter> router_;     // null: dense attention only
  std::vector<kernels::AttnSeq> attn_seqs_;     // [num_seqs]
  std::vector<int64_t> prompt_ends_;            // [num_seqs] each sequence's prompt length
  std::vector<float> x_;                        // [n, hidden] residual stream
  std::vector<float> h_;                        // [n, hidden] normed input
  std::vector<float> q_;                        // [n, num_heads * head_dim]
  std::vector<float> k_;                        // [n, num_kv_heads * head_dim]
  std::vector<float> v_;                        // [n, num_kv_heads * head_dim]
  std::vector<float> attn_;                     // [n, num_heads * head_dim]
  std::vector<float> gate_;                     // [n, ffn_hidden]
  std::vector<float> up_;                       // [n, ffn_hidden]
  std::vector<float> out_;                      // [n, hidden]
  std::vector<float> last_;                     // [num_logit_rows, hidden]
};

}  // namespace hearth::worker
