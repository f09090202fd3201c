// Exports a GGUF Llama-family model to a Hugging Face directory: model.safetensors
// (dequantized to f32/f16/bf16, HF tensor names and layouts), config.json and
// generation_config.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/safetensors.h"

namespace hearth::tools {

struct ExportOptions {
  std::string gguf_path;
  std::string out_dir;
  model::SafetensorsDtype dtype = model::SafetensorsDtype::kF16;  // F32, F16 or BF16
};

Status ExportGgufToHf(const ExportOptions& options);

// HF name for a GGUF tensor name ("blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj.weight");
// empty when the tensor has no HF counterpart (e.g. rope_freqs.weight).
std::string HfTensorName(const std::string& gguf_name);

// llama.cpp's converter reorders the rows of each head of Q and K so that RoPE rotates
// adjacent pairs: GGUF row h*d + 2*i + j holds HF row h*d + j*d/2 + i (d = head_dim,
// j in {0,1}). This undoes that on `rows` rows of `row_len` floats.
std::vector<float> UnpermuteRopeRows(const std::vector<float>& gguf_rows, uint64_t num_heads,
                                     uint64_t head_dim, uint64_t row_len);

}  // namespace hearth::tools
