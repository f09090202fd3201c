// Which attention each row of a batch runs: dense paged attention, or, for a
// model with SampleAttention on, SampleAttention for prompt rows at long
// positions. Holds what the method keeps per KV block (the query samples).
//
// A row's method depends only on its position and its sequence's prompt
// length, never on the batch or the chunking, so a prompt and the tokens
// generated after it give the same logits however they are scheduled, and a
// recomputed sequence (after preemption or a crash) continues with the same
// text. Generated tokens always run dense, prefilled again or not.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/status.h"
#include "gpu_worker/kv_cache.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/sample_attention.h"
#include "kernels/cpu/thread_pool.h"

namespace hearth::worker {

// A model's long-context attention options (off by default).
struct LongContextOptions {
  bool sample_attention = false;
  int64_t sample_attention_min_position = 1024;  // prompt rows at positions below run dense
  kernels::SampleAttentionParams sample_attention_params;
};

class AttentionRouter {
 public:
  // `cache` must outlive the router. num_heads: the model's query heads.
  static StatusOr<std::unique_ptr<AttentionRouter>> Create(const LongContextOptions& options, const KvCache& cache,
                                                           int32_t num_layers, int32_t num_heads);

  // Attention of one layer for the batch's sequences (WriteKv done). prompt_ends[i]: the
  // prompt length of seqs[i]. Shapes as kernels::Attention.
  Status Attend(int layer, std::span<const kernels::AttnSeq> seqs, std::span<const int64_t> prompt_ends,
                const float* q, int32_t num_heads, float* out, kernels::ThreadPool& pool);

  // Bytes it holds beside the KV cache.
  uint64_t num_bytes() const { return samples_memory_.size() * sizeof(uint16_t); }

 private:
  AttentionRouter(const LongContextOptions& options, const KvCache& cache) : options_(options), cache_(cache) {}

  const LongContextOptions options_;
  const KvCache& cache_;
  std::vector<uint16_t> samples_memory_;                // every layer's query samples
  std::vector<kernels::QuerySamplePool> samples_;       // [num_layers]
  std::vector<kernels::AttnSeq> dense_, sparse_;        // per call, reused
};

}  // namespace hearth::worker
