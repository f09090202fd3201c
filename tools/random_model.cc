// Random weights: each tensor draws from its own counter-based stream (seed, tensor
// index), so tensors are produced lazily, one at a time, and reproducibly.
#include "tools/random_model.h"

#include <cmath>
#include <filesystem>
#include <memory>
#include <vector>

#include <unistd.h>

#include "kernels/cpu/quant.h"
#include "model/gguf.h"
#include "model/gguf_writer.h"
#include "model/hf_config.h"
#include "model/llama_config.h"
#include "model/safetensors_writer.h"

namespace hearth::tools {
namespace {

using kernels::GgmlType;

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// `n` normal samples (Box-Muller) with the given mean and standard deviation.
std::vector<float> RandomNormal(uint64_t seed, uint64_t stream, uint64_t n, float mean, float stddev) {
  uint64_t state = seed * 0x100000001B3ull + stream;
  std::vector<float> out(n);
  for (uint64_t i = 0; i < n; i += 2) {
    const double u1 = (static_cast<double>(SplitMix64(&state) >> 11) + 0.5) / 9007199254740992.0;
    const double u2 = static_cast<double>(SplitMix64(&state) >> 11) / 9007199254740992.0;
    const double r = std::sqrt(-2.0 * std::log(u1));
    out[i] = mean + stddev * static_cast<float>(r * std::cos(2 * M_PI * u2));
    if (i + 1 < n) out[i + 1] = mean + stddev * static_cast<float>(r * std::sin(2 * M_PI * u2));
  }
  return out;
}

struct TensorSpec {
  std::string gguf_name;
  std::string hf_name;
  uint64_t rows;  // output features
  uint64_t cols;  // input features (row length); 0 for a 1-D norm weight of `rows`
};

std::vector<TensorSpec> Specs(const RandomModelOptions& o) {
  const uint64_t hd = o.hidden / o.heads;
  std::vector<TensorSpec> s = {{"token_embd.weight", "model.embed_tokens.weight", o.vocab, o.hidden},
                               {"output_norm.weight", "model.norm.weight", o.hidden, 0}};
  if (!o.tied) s.push_back({"output.weight", "lm_head.weight", o.vocab, o.hidden});
  for (uint32_t l = 0; l < o.layers; ++l) {
    const std::string g = "blk." + std::to_string(l) + ".";
    const std::string h = "model.layers." + std::to_string(l) + ".";
    s.push_back({g + "attn_norm.weight", h + "input_layernorm.weight", o.hidden, 0});
    s.push_back({g + "attn_q.weight", h + "self_attn.q_proj.weight", o.heads * hd, o.hidden});
    s.push_back({g + "attn_k.weight", h + "self_attn.k_proj.weight", o.kv_heads * hd, o.hidden});
    s.push_back({g + "attn_v.weight", h + "self_attn.v_proj.weight", o.kv_heads * hd, o.hidden});
    s.push_back({g + "attn_output.weight", h + "self_attn.o_proj.weight", o.hidden, o.heads * hd});
    s.push_back({g + "ffn_norm.weight", h + "post_attention_layernorm.weight", o.hidden, 0});
    s.push_back({g + "ffn_gate.weight", h + "mlp.gate_proj.weight", o.ffn, o.hidden});
    s.push_back({g + "ffn_up.weight", h + "mlp.up_proj.weight", o.ffn, o.hidden});
    s.push_back({g + "ffn_down.weight", h + "mlp.down_proj.weight", o.hidden, o.ffn});
  }
  return s;
}

std::vector<float> Values(const RandomModelOptions& o, size_t index, const TensorSpec& t) {
  if (t.cols == 0) return RandomNormal(o.seed, index, t.rows, 1.0f, 0.05f);  // norm gains near 1
  return RandomNormal(o.seed, index, t.rows * t.cols, 0.0f, 0.02f);
}

// A SentencePiece-style vocab of <unk>, <s>, </s> and the 256 byte tokens, padded with
// extra tokens up to `vocab`.
void AddByteVocab(model::GgufWriter* w, uint32_t vocab) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};  // unknown, control, control
  char buf[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    tokens.push_back(buf);
    types.push_back(6);  // byte
  }
  while (tokens.size() < vocab) {
    tokens.push_back("<extra_" + std::to_string(tokens.size()) + ">");
    types.push_back(4);  // user-defined
  }
  w->AddString("tokenizer.ggml.model", "llama");
  w->AddStringArray("tokenizer.ggml.tokens", tokens);
  w->AddFloat32Array("tokenizer.ggml.scores", std::vector<float>(tokens.size(), 0.0f));
  w->AddInt32Array("tokenizer.ggml.token_type", types);
  w->AddUint32("tokenizer.ggml.bos_token_id", 1);
  w->AddUint32("tokenizer.ggml.eos_token_id", 2);
  w->AddUint32("tokenizer.ggml.unknown_token_id", 0);
}

Status CheckShape(const RandomModelOptions& o) {
  if (o.layers == 0 || o.hidden == 0 || o.heads == 0 || o.kv_heads == 0 || o.ffn == 0 || o.ctx == 0) {
    return Status::InvalidArgument("layers, hidden, heads, kv-heads, ffn and ctx must be positive");
  }
  if (o.hidden % o.heads != 0) return Status::InvalidArgument("hidden must be a multiple of heads");
  if (o.heads % o.kv_heads != 0) return Status::InvalidArgument("heads must be a multiple of kv-heads");
  HEARTH_ASSIGN_OR_RETURN(kernels::GgmlBlockLayout layout, kernels::GgmlLayout(o.type));
  if (o.hidden % layout.block_size != 0 || o.ffn % layout.block_size != 0) {
    return Status::InvalidArgument(std::string("hidden and ffn must be multiples of ") +
                                   std::to_string(layout.block_size) + " for type " + GgmlTypeName(o.type));
  }
  return Status::Ok();
}

model::LlamaConfig ConfigOf(const RandomModelOptions& o) {
  model::LlamaConfig c;
  c.arch = "llama";
  c.vocab_size = o.vocab;
  c.hidden = o.hidden;
  c.num_layers = o.layers;
  c.num_heads = o.heads;
  c.num_kv_heads = o.kv_heads;
  c.head_dim = o.hidden / o.heads;
  c.ffn_hidden = o.ffn;
  c.context_length = o.ctx;
  c.tied_embeddings = o.tied;
  return c;
}

Status WriteGguf(RandomModelOptions o) {
  model::GgufWriter w;
  std::unique_ptr<model::GgufFile> source;
  if (!o.tokenizer_from.empty()) {
    HEARTH_ASSIGN_OR_RETURN(source, model::GgufFile::Open(o.tokenizer_from));
    const model::GgufValue* tokens = source->Find("tokenizer.ggml.tokens");
    if (!tokens || tokens->type != model::GgufValueType::kArray) {
      return Status::InvalidArgument(o.tokenizer_from + " has no tokenizer.ggml.tokens");
    }
    if (o.vocab == 0) o.vocab = static_cast<uint32_t>(tokens->count);
    if (o.vocab != tokens->count) {
      return Status::InvalidArgument("--vocab " + std::to_string(o.vocab) + " differs from the tokenizer's " +
                                     std::to_string(tokens->count) + " tokens");
    }
  } else if (o.vocab == 0) {
    o.vocab = 259;
  } else if (o.vocab < 259) {
    return Status::InvalidArgument("the synthetic byte vocab needs --vocab >= 259");
  }
  HEARTH_RETURN_IF_ERROR(ConfigOf(o).Validate());
  w.AddString("general.architecture", "llama");
  w.AddString("general.name", "hearth-random");
  w.AddUint32("llama.vocab_size", o.vocab);
  w.AddUint32("llama.context_length", o.ctx);
  w.AddUint32("llama.embedding_length", o.hidden);
  w.AddUint32("llama.block_count", o.layers);
  w.AddUint32("llama.feed_forward_length", o.ffn);
  w.AddUint32("llama.attention.head_count", o.heads);
  w.AddUint32("llama.attention.head_count_kv", o.kv_heads);
  w.AddUint32("llama.rope.dimension_count", o.hidden / o.heads);
  w.AddFloat32("llama.rope.freq_base", 10000.0f);
  w.AddFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  if (source) {
    for (const model::GgufKeyValue& kv : source->metadata()) {
      if (kv.key.rfind("tokenizer.", 0) == 0) w.AddValue(kv.key, kv.value);
    }
  } else {
    AddByteVocab(&w, o.vocab);
  }
  const auto specs = Specs(o);
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& t = specs[i];
    const GgmlType type = t.cols == 0 ? GgmlType::kF32 : o.type;
    std::vector<uint64_t> dims = t.cols == 0 ? std::vector<uint64_t>{t.rows} : std::vector<uint64_t>{t.cols, t.rows};
    w.AddTensor(t.gguf_name, type, dims, [o, i, t, type]() -> StatusOr<std::vector<uint8_t>> {
      const std::vector<float> v = Values(o, i, t);
      return kernels::QuantizeTensor(type, v.data(), v.size());
    });
  }
  // The source file stays open until here: AddValue copied its metadata already.
  return w.WriteFile(o.out);
}

Status WriteSafetensors(RandomModelOptions o) {
  model::SafetensorsDtype dtype;
  if (o.type == GgmlType::kF32)
    dtype = model::SafetensorsDtype::kF32;
  else if (o.type == GgmlType::kF16)
    dtype = model::SafetensorsDtype::kF16;
  else if (o.type == GgmlType::kBF16)
    dtype = model::SafetensorsDtype::kBF16;
  else return Status::InvalidArgument("safetensors output supports f32, f16 and bf16 only");
  if (o.vocab == 0) o.vocab = 259;
  HEARTH_RETURN_IF_ERROR(ConfigOf(o).Validate());
  std::error_code ec;
  std::filesystem::create_directories(o.out, ec);
  if (ec) return Status::IOError("cannot create " + o.out + ": " + ec.message());
  model::SafetensorsWriter w;
  w.SetMetadata("format", "pt");
  const auto specs = Specs(o);
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& t = specs[i];
    std::vector<uint64_t> shape = t.cols == 0 ? std::vector<uint64_t>{t.rows} : std::vector<uint64_t>{t.rows, t.cols};
    const GgmlType type = o.type;
    w.AddTensor(t.hf_name, dtype, shape, [o, i, t, type]() -> StatusOr<std::vector<uint8_t>> {
      const std::vector<float> v = Values(o, i, t);
      return kernels::QuantizeTensor(type, v.data(), v.size());  // f32/f16/bf16 bytes match safetensors'
    });
  }
  HEARTH_RETURN_IF_ERROR(w.WriteFile(o.out + "/model.safetensors"));
  model::HfConfigExtras extras;
  extras.torch_dtype = dtype == model::SafetensorsDtype::kF32 ? "float32"
                       : dtype == model::SafetensorsDtype::kF16 ? "float16" : "bfloat16";
  std::FILE* f = std::fopen((o.out + "/config.json").c_str(), "w");
  if (!f) return Status::IOError("cannot write " + o.out + "/config.json");
  const std::string json = model::LlamaConfigToHfJson(ConfigOf(o), extras);
  const bool ok = std::fwrite(json.data(), 1, json.size(), f) == json.size();
  if (std::fclose(f) != 0 || !ok) return Status::IOError("write failed: " + o.out + "/config.json");
  if (!o.tokenizer_from.empty()) {
    std::filesystem::copy_file(o.tokenizer_from, o.out + "/tokenizer.json",
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return Status::IOError("cannot copy " + o.tokenizer_from + ": " + ec.message());
  }
  return Status::Ok();
}

}  // namespace

Status WriteRandomModel(const RandomModelOptions& o) {
  if (o.out.empty()) return Status::InvalidArgument("--out is required");
  HEARTH_RETURN_IF_ERROR(CheckShape(o));
  if (o.format == "gguf") return WriteGguf(o);
  if (o.format == "safetensors") return WriteSafetensors(o);
  return Status::InvalidArgument("--format must be gguf or safetensors, not '" + o.format + "'");
}

StatusOr<std::string> WriteSmallTestModel(const std::string& tag, uint64_t seed, kernels::GgmlType type) {
  RandomModelOptions o;
  o.layers = 2;
  o.hidden = 64;
  o.heads = 4;
  o.kv_heads = 2;
  o.ffn = 96;
  o.ctx = 512;
  o.seed = seed;
  o.type = type;
  o.out = (std::filesystem::temp_directory_path() /
           ("hearth-" + tag + "-" + std::to_string(::getpid()) + ".gguf")).string();
  HEARTH_RETURN_IF_ERROR(WriteRandomModel(o));
  return o.out;
}

}  // namespace hearth::tools
