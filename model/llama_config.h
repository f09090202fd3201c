// The shape and hyperparameters of a Llama-family model (Llama 2/3, Mistral, SmolLM2,
// Qwen2), built from GGUF metadata or from a Hugging Face config.json.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "model/gguf.h"

namespace hearth::model {

// How RoPE pairs the dimensions of a head.
enum class RopeStyle {
  // Adjacent pairs (2i, 2i+1) rotate together. GGUF llama-arch files use this because
  // llama.cpp's converter permutes the Q/K weight rows to match.
  kInterleaved,
  // Dimension i rotates with i + head_dim/2 ("rotate half"): HF checkpoints, GGUF qwen2.
  kNeox,
};

enum class RopeScalingType { kNone, kLinear, kLlama3 };

struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  float factor = 1.0f;            // linear and llama3
  float low_freq_factor = 1.0f;   // llama3
  float high_freq_factor = 4.0f;  // llama3
  uint32_t original_max_position_embeddings = 8192;  // llama3
};

struct LlamaConfig {
  std::string arch;  // "llama" or "qwen2" (Mistral and SmolLM2 are "llama")
  uint32_t vocab_size = 0;
  uint32_t hidden = 0;  // embedding_length / hidden_size
  uint32_t num_layers = 0;
  uint32_t num_heads = 0;
  uint32_t num_kv_heads = 0;
  uint32_t head_dim = 0;
  uint32_t ffn_hidden = 0;  // feed_forward_length / intermediate_size
  float rms_norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  RopeScaling rope_scaling;
  // GGUF llama3 models carry per-dimension RoPE frequency factors in a `rope_freqs.weight`
  // tensor ([head_dim / 2] f32) instead of rope_scaling metadata.
  bool has_rope_freqs_tensor = false;
  uint32_t context_length = 0;
  bool tied_embeddings = false;  // no separate output (lm_head) weight
  bool qkv_bias = false;         // Q, K, V projections have biases (Qwen2)
  RopeStyle rope_style = RopeStyle::kNeox;

  // Checks every field for sanity; InvalidArgument naming the field otherwise.
  Status Validate() const;
};

const char* RopeStyleName(RopeStyle style);
const char* RopeScalingTypeName(RopeScalingType type);

// Reads `<arch>.block_count` etc. Arches: llama, qwen2; others are Unimplemented.
// Tied embeddings and QKV bias are read from which tensors the file has.
StatusOr<LlamaConfig> LlamaConfigFromGguf(const GgufFile& file);

}  // namespace hearth::model
