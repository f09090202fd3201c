// LlamaConfig validation and construction from GGUF metadata.
#include "model/llama_config.h"

#include <cmath>
#include <string>

namespace hearth::model {
namespace {

// Upper bounds far beyond any real model, to stop absurd values from untrusted files
// turning into huge allocations later.
constexpr uint32_t kMaxVocab = 1u << 22;
constexpr uint32_t kMaxHidden = 1u << 16;
constexpr uint32_t kMaxLayers = 1024;
constexpr uint32_t kMaxHeads = 1024;
constexpr uint32_t kMaxHeadDim = 1024;
constexpr uint32_t kMaxFfn = 1u << 20;
constexpr uint32_t kMaxContext = 1u << 24;

Status CheckRange(const char* field, uint64_t v, uint64_t max) {
  if (v == 0 || v > max) {
    return Status::InvalidArgument(std::string("model config: ") + field + " = " + std::to_string(v) +
                                   " is outside [1, " + std::to_string(max) + "]");
  }
  return Status::Ok();
}

Status Invalid(const std::string& msg) { return Status::InvalidArgument("model config: " + msg); }

StatusOr<uint32_t> GetU32(const GgufFile& f, const std::string& key) {
  HEARTH_ASSIGN_OR_RETURN(uint64_t v, f.GetUint(key));
  if (v > UINT32_MAX) return Invalid(key + " = " + std::to_string(v) + " is too large");
  return static_cast<uint32_t>(v);
}

StatusOr<uint32_t> GetU32Or(const GgufFile& f, const std::string& key, uint32_t fallback) {
  if (!f.Has(key)) return fallback;
  return GetU32(f, key);
}

StatusOr<float> GetFloatOr(const GgufFile& f, const std::string& key, float fallback) {
  if (!f.Has(key)) return fallback;
  HEARTH_ASSIGN_OR_RETURN(double v, f.GetFloat(key));
  return static_cast<float>(v);
}

// Vocab size: `<arch>.vocab_size`, else the tokenizer's token count, else the rows of
// the embedding table.
StatusOr<uint32_t> GgufVocabSize(const GgufFile& f, const std::string& arch) {
  if (f.Has(arch + ".vocab_size")) return GetU32(f, arch + ".vocab_size");
  if (const GgufValue* tokens = f.Find("tokenizer.ggml.tokens");
      tokens && tokens->type == GgufValueType::kArray) {
    if (tokens->count > UINT32_MAX) return Invalid("tokenizer.ggml.tokens is too long");
    return static_cast<uint32_t>(tokens->count);
  }
  const GgufTensorInfo* emb = f.FindTensor("token_embd.weight");
  if (emb && emb->dims.size() == 2 && emb->dims[1] <= UINT32_MAX) {
    return static_cast<uint32_t>(emb->dims[1]);
  }
  return Status::NotFound("gguf: cannot tell the vocab size: no " + arch +
                          ".vocab_size, tokenizer.ggml.tokens or token_embd.weight");
}

Status ReadGgufRopeScaling(const GgufFile& f, const std::string& arch, LlamaConfig* c) {
  const std::string key = arch + ".rope.scaling.type";
  if (!f.Has(key)) return Status::Ok();
  HEARTH_ASSIGN_OR_RETURN(std::string type, f.GetString(key));
  if (type == "none") return Status::Ok();
  if (type != "linear") {
    return Status::Unimplemented("gguf: rope scaling type '" + type + "' is not supported");
  }
  c->rope_scaling.type = RopeScalingType::kLinear;
  HEARTH_ASSIGN_OR_RETURN(c->rope_scaling.factor, GetFloatOr(f, arch + ".rope.scaling.factor", 1.0f));
  return Status::Ok();
}

}  // namespace

const char* RopeStyleName(RopeStyle style) {
  return style == RopeStyle::kInterleaved ? "interleaved" : "neox";
}

const char* RopeScalingTypeName(RopeScalingType type) {
  switch (type) {
    case RopeScalingType::kNone: return "none";
    case RopeScalingType::kLinear: return "linear";
    case RopeScalingType::kLlama3: return "llama3";
  }
  return "unknown";
}

Status LlamaConfig::Validate() const {
  if (arch != "llama" && arch != "qwen2") return Invalid("unsupported arch '" + arch + "'");
  HEARTH_RETURN_IF_ERROR(CheckRange("vocab_size", vocab_size, kMaxVocab));
  HEARTH_RETURN_IF_ERROR(CheckRange("hidden", hidden, kMaxHidden));
  HEARTH_RETURN_IF_ERROR(CheckRange("num_layers", num_layers, kMaxLayers));
  HEARTH_RETURN_IF_ERROR(CheckRange("num_heads", num_heads, kMaxHeads));
  HEARTH_RETURN_IF_ERROR(CheckRange("num_kv_heads", num_kv_heads, kMaxHeads));
  HEARTH_RETURN_IF_ERROR(CheckRange("head_dim", head_dim, kMaxHeadDim));
  HEARTH_RETURN_IF_ERROR(CheckRange("ffn_hidden", ffn_hidden, kMaxFfn));
  HEARTH_RETURN_IF_ERROR(CheckRange("context_length", context_length, kMaxContext));
  if (num_heads % num_kv_heads != 0) {
    return Invalid("num_heads " + std::to_string(num_heads) + " is not a multiple of num_kv_heads " +
                   std::to_string(num_kv_heads));
  }
  if (head_dim % 2 != 0) return Invalid("head_dim " + std::to_string(head_dim) + " is odd (RoPE needs pairs)");
  if (uint64_t{head_dim} * num_heads > 4 * uint64_t{hidden}) {
    return Invalid("num_heads * head_dim = " + std::to_string(uint64_t{head_dim} * num_heads) +
                   " is inconsistent with hidden " + std::to_string(hidden));
  }
  if (!(rms_norm_eps > 0.0f && rms_norm_eps < 1.0f)) {
    return Invalid("rms_norm_eps " + std::to_string(rms_norm_eps) + " is outside (0, 1)");
  }
  if (!(rope_theta > 0.0f) || !std::isfinite(rope_theta)) {
    return Invalid("rope_theta " + std::to_string(rope_theta) + " must be positive and finite");
  }
  const RopeScaling& rs = rope_scaling;
  if (rs.type != RopeScalingType::kNone && (!(rs.factor >= 1.0f) || !std::isfinite(rs.factor))) {
    return Invalid("rope scaling factor " + std::to_string(rs.factor) + " must be >= 1 and finite");
  }
  if (rs.type == RopeScalingType::kLlama3) {
    if (!(rs.low_freq_factor > 0.0f) || !(rs.high_freq_factor > rs.low_freq_factor) ||
        !std::isfinite(rs.high_freq_factor)) {
      return Invalid("llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor");
    }
    HEARTH_RETURN_IF_ERROR(CheckRange("rope original_max_position_embeddings",
                                      rs.original_max_position_embeddings, kMaxContext));
  }
  return Status::Ok();
}

StatusOr<LlamaConfig> LlamaConfigFromGguf(const GgufFile& f) {
  LlamaConfig c;
  HEARTH_ASSIGN_OR_RETURN(c.arch, f.GetString("general.architecture"));
  if (c.arch != "llama" && c.arch != "qwen2") {
    return Status::Unimplemented("gguf: architecture '" + c.arch +
                                 "' is not supported (supported: llama, qwen2)");
  }
  const std::string& a = c.arch;
  HEARTH_ASSIGN_OR_RETURN(c.vocab_size, GgufVocabSize(f, a));
  HEARTH_ASSIGN_OR_RETURN(c.hidden, GetU32(f, a + ".embedding_length"));
  HEARTH_ASSIGN_OR_RETURN(c.num_layers, GetU32(f, a + ".block_count"));
  HEARTH_ASSIGN_OR_RETURN(c.num_heads, GetU32(f, a + ".attention.head_count"));
  HEARTH_ASSIGN_OR_RETURN(c.num_kv_heads, GetU32Or(f, a + ".attention.head_count_kv", c.num_heads));
  HEARTH_ASSIGN_OR_RETURN(c.ffn_hidden, GetU32(f, a + ".feed_forward_length"));
  HEARTH_ASSIGN_OR_RETURN(c.context_length, GetU32(f, a + ".context_length"));
  if (c.num_heads == 0) return Invalid("num_heads is 0");
  if (!f.Has(a + ".attention.key_length") && c.hidden % c.num_heads != 0) {
    return Invalid("hidden " + std::to_string(c.hidden) + " is not a multiple of num_heads " +
                   std::to_string(c.num_heads));
  }
  HEARTH_ASSIGN_OR_RETURN(c.head_dim, GetU32Or(f, a + ".attention.key_length", c.hidden / c.num_heads));
  HEARTH_ASSIGN_OR_RETURN(uint32_t value_length, GetU32Or(f, a + ".attention.value_length", c.head_dim));
  if (value_length != c.head_dim) return Invalid("key_length != value_length is not supported");
  HEARTH_ASSIGN_OR_RETURN(c.rms_norm_eps, GetFloatOr(f, a + ".attention.layer_norm_rms_epsilon", 1e-5f));
  HEARTH_ASSIGN_OR_RETURN(c.rope_theta, GetFloatOr(f, a + ".rope.freq_base", 10000.0f));
  HEARTH_RETURN_IF_ERROR(ReadGgufRopeScaling(f, a, &c));
  HEARTH_ASSIGN_OR_RETURN(uint32_t rope_dims, GetU32Or(f, a + ".rope.dimension_count", c.head_dim));
  if (rope_dims != c.head_dim) return Status::Unimplemented("gguf: partial RoPE (rope.dimension_count != head_dim)");
  c.has_rope_freqs_tensor = f.FindTensor("rope_freqs.weight") != nullptr;
  c.tied_embeddings = f.FindTensor("output.weight") == nullptr;
  c.qkv_bias = f.FindTensor("blk.0.attn_q.bias") != nullptr;
  c.rope_style = a == "llama" ? RopeStyle::kInterleaved : RopeStyle::kNeox;
  HEARTH_RETURN_IF_ERROR(c.Validate());
  return c;
}

}  // namespace hearth::model
