// Writes random-weight Llama-family models of any shape, for tests and speed work.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "kernels/ggml_type.h"

namespace hearth::tools {

struct RandomModelOptions {
  uint32_t layers = 2;
  uint32_t hidden = 64;
  uint32_t heads = 4;
  uint32_t kv_heads = 2;
  uint32_t ffn = 128;
  uint32_t vocab = 0;  // 0: the tokenizer's size (source file, or the 259-token byte vocab)
  uint32_t ctx = 256;
  uint64_t seed = 0;
  bool tied = false;  // share token_embd as the output projection
  kernels::GgmlType type = kernels::GgmlType::kF32;  // matrices; norms are always f32
  std::string format = "gguf";    // "gguf" (a file) or "safetensors" (a directory)
  std::string out;                // file (gguf) or directory (safetensors)
  std::string tokenizer_from;     // GGUF to copy tokenizer.* metadata from, or a tokenizer.json
};

Status WriteRandomModel(const RandomModelOptions& options);

// A tiny GGUF model for tests (2 layers, hidden 64, 4 heads over 2 KV heads,
// ffn 96, context 512, byte vocabulary), written to a file in the temporary
// directory whose name holds `tag` and this process's id; returns its path.
StatusOr<std::string> WriteSmallTestModel(const std::string& tag, uint64_t seed,
                                          kernels::GgmlType type = kernels::GgmlType::kF32);

}  // namespace hearth::tools
