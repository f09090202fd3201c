// Attention over a paged KV cache for a batch that mixes prefill chunks and
// decodes.
//
// Chunk invariance: the output for a token at position p is bit-identical
// whether its prompt ran whole or in chunks of any size, and whatever else is
// in the batch. Keys and values are always read back from the cache (never the
// fresh f32 inputs), and each (query row, head) reduces over keys 0..p in key
// order: scores, a softmax over the whole row, then probabilities times
// values; dot products and sums reduce in a fixed 16-lane order (key j's
// product in lane j % 16). With an f16 cache, q and the normalized
// probabilities are rounded to f16 before their products (f32 accumulation),
// which is what llama.cpp's non-flash attention computes.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "kernels/cpu/thread_pool.h"

namespace hearth::kernels {

enum class KvDtype { kF16, kF32 };

// One layer's K and V pools. A block holds block_size consecutive positions
// of one sequence for every KV head.
struct KvCacheLayer {
  KvDtype dtype = KvDtype::kF16;
  int32_t block_size = 16;    // tokens per block
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t num_blocks = 0;     // blocks in each pool
  void* k = nullptr;          // [num_blocks, block_size, num_kv_heads, head_dim] of dtype
  void* v = nullptr;          // [num_blocks, block_size, num_kv_heads, head_dim] of dtype
};

// One sequence's part of the batch: its new tokens are at positions
// [start_pos, start_pos + num_q) and at rows [q_row_offset, q_row_offset + num_q)
// of the batch's q/k/v/out arrays.
struct AttnSeq {
  int64_t start_pos = 0;
  int32_t num_q = 0;
  int32_t q_row_offset = 0;
  const int32_t* block_table = nullptr;  // [num_blocks] block ids, position p in block_table[p / block_size]
  int32_t num_blocks = 0;
};

// Bytes of one K (or V) pool for `cache`'s shape.
size_t KvPoolBytes(const KvCacheLayer& cache);

// Stores the new tokens' keys and values into their blocks.
// k, v: [num_tokens, num_kv_heads * head_dim] f32, rows as the seqs say.
Status WriteKv(const KvCacheLayer& cache, const AttnSeq* seqs, int32_t num_seqs, const float* k,
               const float* v);

// Causal GQA attention of each sequence's new tokens over its cached positions
// 0..own position (WriteKv must have stored them). Scale 1/sqrt(head_dim).
// q: [num_tokens, num_heads * head_dim]; out: [num_tokens, num_heads * head_dim].
// num_heads must be a multiple of cache.num_kv_heads. Runs over the pool in
// tasks of (sequence, kv head, 16-query tile); uses the pool's shared and
// per-thread scratch (a score row per query row and head of a task).
Status Attention(const KvCacheLayer& cache, const AttnSeq* seqs, int32_t num_seqs, const float* q,
                 int32_t num_heads, float* out, ThreadPool& pool);

}  // namespace hearth::kernels
