// A Llama-family model's weights as kernel views into a mapped GGUF file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/status.h"
#include "kernels/cpu/weight_type.h"
#include "model/gguf.h"
#include "model/llama_config.h"

namespace hearth::worker {

// A pointer added to these structs must also be moved by RebaseLlamaWeights.
struct LayerWeights {
  const float* attn_norm = nullptr;  // [hidden]
  kernels::WeightView wq;            // [num_heads * head_dim, hidden]
  kernels::WeightView wk;            // [num_kv_heads * head_dim, hidden]
  kernels::WeightView wv;            // [num_kv_heads * head_dim, hidden]
  kernels::WeightView wo;            // [hidden, num_heads * head_dim]
  const float* bq = nullptr;         // [num_heads * head_dim] or null (Qwen2 only)
  const float* bk = nullptr;         // [num_kv_heads * head_dim] or null
  const float* bv = nullptr;         // [num_kv_heads * head_dim] or null
  const float* ffn_norm = nullptr;   // [hidden]
  kernels::WeightView w_gate;        // [ffn_hidden, hidden]
  kernels::WeightView w_up;          // [ffn_hidden, hidden]
  kernels::WeightView w_down;        // [hidden, ffn_hidden]
};

struct LlamaWeights {
  model::LlamaConfig config;
  kernels::WeightView token_embd;      // [vocab, hidden]
  std::vector<LayerWeights> layers;    // [num_layers]
  const float* output_norm = nullptr;  // [hidden]
  kernels::WeightView output;          // [vocab, hidden]; the embedding when tied
  std::vector<float> rope_freq_factors;  // [head_dim / 2] or empty

  // Norm and bias vectors stored in the file as F16/BF16 are widened here;
  // the pointers above point into this or into the mapping. Shared with the
  // weights rebased from these (RebaseLlamaWeights).
  std::vector<std::shared_ptr<const float[]>> owned;

  // Bytes of all weights referenced (for reports).
  uint64_t num_weight_bytes = 0;
};

// Builds views over `file`'s tensors and checks every name, type and shape
// against the configuration. `file` must outlive the result.
StatusOr<std::unique_ptr<LlamaWeights>> LoadLlamaWeights(const model::GgufFile& file);

// Swap-in without parsing the file again: `w` was built over the `size` bytes
// at `from` (a staged file), and those bytes have been copied to `to` (pool
// pages). Returns a copy of `w` whose views into [from, from + size) point at
// the same offsets from `to`; its owned vectors are shared with `w`. A view
// that does not lie wholly inside [from, from + size) and is not owned by `w`
// is InvalidArgument, as is a move by other than a multiple of 64 bytes (the
// views would lose the alignment they were built with).
StatusOr<std::unique_ptr<LlamaWeights>> RebaseLlamaWeights(const LlamaWeights& w, const uint8_t* from, size_t size,
                                                           const uint8_t* to);

}  // namespace hearth::worker
