// SampleAttention for long prompts: attention over a few key columns chosen by
// sampled query rows plus a local window, per head (arXiv 2406.15486).
//
// The selection must not depend on how a prompt was cut into chunks, so it is
// made from the cache alone. Every block's first query row (one in block_size,
// equidistant) is stored beside the KV cache (WriteQuerySamples). Query rows at
// positions [B, B + segment), B a multiple of segment, share one selection per
// head: the stored samples at positions [B - segment, B) score every key they
// see with an exact softmax, the scores are summed per key column, and the
// columns before B - segment are kept in descending order of their sums (ties:
// the lower position first) until the kept columns plus the window hold a
// fraction alpha of the samples' total attention. A row at position p then
// attends to the kept columns and the whole window [B - segment, p], in key
// order, with the same fixed-order scores, softmax and value sums as
// paged_attention.h. Rows with B < segment have no columns to drop: their
// result is full causal attention.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "kernels/cpu/paged_attention.h"
#include "kernels/cpu/thread_pool.h"

namespace hearth::kernels {

// One layer's stored query samples: the query (after RoPE) of each block's
// first position, every query head, in f16.
struct QuerySamplePool {
  int32_t block_size = 16;  // as the KV cache's
  int32_t num_blocks = 0;   // as the KV cache's
  int32_t num_heads = 0;    // query heads
  int32_t head_dim = 0;
  uint16_t* q = nullptr;    // [num_blocks, num_heads, head_dim] f16
};

size_t QuerySamplePoolBytes(const QuerySamplePool& pool);

struct SampleAttentionParams {
  int32_t segment = 256;  // query rows sharing a selection, and the window; a multiple of block_size
  float alpha = 0.95f;    // attention mass the kept columns and the window reach, in (0, 1]
};

// Stores the queries of the batch's tokens that sit at a block's first
// position. q: [num_tokens, num_heads * head_dim] f32, rows as the seqs say.
Status WriteQuerySamples(const QuerySamplePool& samples, const AttnSeq* seqs, int32_t num_seqs, const float* q);

// SampleAttention of each sequence's new tokens (WriteKv and WriteQuerySamples
// must have stored positions 0..own position). Shapes as Attention(); scale
// 1/sqrt(head_dim). Runs over the pool in tasks of (sequence, kv head, segment).
Status SampleAttention(const KvCacheLayer& cache, const QuerySamplePool& samples, const AttnSeq* seqs,
                       int32_t num_seqs, const float* q, int32_t num_heads, const SampleAttentionParams& params,
                       float* out, ThreadPool& pool);

}  // namespace hearth::kernels
