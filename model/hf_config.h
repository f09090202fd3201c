// Hugging Face config.json <-> LlamaConfig (model_type llama, mistral, qwen2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "model/llama_config.h"

namespace hearth::model {

// Parses config.json text. The result uses RopeStyle::kNeox (HF checkpoints rotate half).
StatusOr<LlamaConfig> LlamaConfigFromHfJson(std::string_view json);

// Reads and parses `<dir>/config.json`.
StatusOr<LlamaConfig> LlamaConfigFromHfDir(const std::string& dir);

struct HfConfigExtras {
  std::string torch_dtype = "float32";  // "float32", "float16" or "bfloat16"
  std::optional<int64_t> bos_token_id;
  std::optional<int64_t> eos_token_id;
};

// A config.json that transformers' LlamaForCausalLM / Qwen2ForCausalLM loads.
std::string LlamaConfigToHfJson(const LlamaConfig& config, const HfConfigExtras& extras);

}  // namespace hearth::model
