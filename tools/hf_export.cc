// GGUF -> HF export. Tensors are dequantized with the reference decoders one at a time,
// while the safetensors file is written.
#include "tools/hf_export.h"

#include <cstdio>
#include <filesystem>
#include <memory>

#include "kernels/cpu/quant.h"
#include "model/gguf.h"
#include "model/hf_config.h"
#include "model/llama_config.h"
#include "model/safetensors_writer.h"

namespace hearth::tools {
namespace {

using kernels::GgmlType;

Status WriteText(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return Status::IOError("cannot write " + path);
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok) return Status::IOError("write failed: " + path);
  return Status::Ok();
}

GgmlType ToGgml(model::SafetensorsDtype d) {
  if (d == model::SafetensorsDtype::kF16) return GgmlType::kF16;
  if (d == model::SafetensorsDtype::kBF16) return GgmlType::kBF16;
  return GgmlType::kF32;
}

// Dequantizes one tensor into HF layout (rows = output features; Q/K rows un-permuted).
StatusOr<std::vector<uint8_t>> ConvertTensor(const model::GgufTensorInfo& t, const model::LlamaConfig& c,
                                             model::SafetensorsDtype dtype) {
  HEARTH_RETURN_IF_ERROR(kernels::CheckGgmlTypeSupported(t.type, t.name));
  HEARTH_ASSIGN_OR_RETURN(std::vector<float> v, kernels::DequantizeTensor(t.type, t.data, t.num_bytes, t.num_elements));
  const bool is_q = t.name.find(".attn_q.") != std::string::npos;
  const bool is_k = t.name.find(".attn_k.") != std::string::npos;
  if (c.rope_style == model::RopeStyle::kInterleaved && (is_q || is_k)) {
    const uint64_t heads = is_q ? c.num_heads : c.num_kv_heads;
    const uint64_t row_len = t.dims.size() == 1 ? 1 : t.dims[0];
    if (t.num_elements != heads * c.head_dim * row_len) {
      return Status::InvalidArgument("tensor '" + t.name + "' does not have heads * head_dim rows");
    }
    v = UnpermuteRopeRows(v, heads, c.head_dim, row_len);
  }
  return kernels::QuantizeTensor(ToGgml(dtype), v.data(), v.size());
}

std::vector<uint64_t> HfShape(const model::GgufTensorInfo& t) {
  return std::vector<uint64_t>(t.dims.rbegin(), t.dims.rend());  // GGUF lists the fastest dim first
}

}  // namespace

std::string HfTensorName(const std::string& g) {
  if (g == "token_embd.weight") return "model.embed_tokens.weight";
  if (g == "output_norm.weight") return "model.norm.weight";
  if (g == "output.weight") return "lm_head.weight";
  if (g.rfind("blk.", 0) != 0) return "";
  const size_t dot = g.find('.', 4);
  if (dot == std::string::npos) return "";
  const std::string layer = g.substr(4, dot - 4);
  const std::string rest = g.substr(dot + 1);  // e.g. "attn_q.weight"
  static const std::pair<const char*, const char*> kMap[] = {
      {"attn_norm.", "input_layernorm."},         {"ffn_norm.", "post_attention_layernorm."},
      {"attn_q.", "self_attn.q_proj."},           {"attn_k.", "self_attn.k_proj."},
      {"attn_v.", "self_attn.v_proj."},           {"attn_output.", "self_attn.o_proj."},
      {"ffn_gate.", "mlp.gate_proj."},            {"ffn_up.", "mlp.up_proj."},
      {"ffn_down.", "mlp.down_proj."},
  };
  for (const auto& [from, to] : kMap) {
    const std::string f = from;
    if (rest.rfind(f, 0) == 0) return "model.layers." + layer + "." + to + rest.substr(f.size());
  }
  return "";
}

std::vector<float> UnpermuteRopeRows(const std::vector<float>& in, uint64_t num_heads, uint64_t head_dim,
                                     uint64_t row_len) {
  std::vector<float> out(in.size());
  const uint64_t half = head_dim / 2;
  for (uint64_t h = 0; h < num_heads; ++h) {
    for (uint64_t i = 0; i < half; ++i) {
      for (uint64_t j = 0; j < 2; ++j) {
        const uint64_t src = h * head_dim + 2 * i + j;
        const uint64_t dst = h * head_dim + j * half + i;
        std::copy_n(in.begin() + src * row_len, row_len, out.begin() + dst * row_len);
      }
    }
  }
  return out;
}

Status ExportGgufToHf(const ExportOptions& o) {
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<model::GgufFile> file, model::GgufFile::Open(o.gguf_path));
  std::shared_ptr<model::GgufFile> f(std::move(file));  // shared with the lazy producers
  HEARTH_ASSIGN_OR_RETURN(model::LlamaConfig config, model::LlamaConfigFromGguf(*f));
  if (config.has_rope_freqs_tensor) {
    return Status::Unimplemented("export: rope_freqs.weight (llama3 rope scaling) cannot be expressed yet");
  }
  std::error_code ec;
  std::filesystem::create_directories(o.out_dir, ec);
  if (ec) return Status::IOError("cannot create " + o.out_dir + ": " + ec.message());
  model::SafetensorsWriter w;
  w.SetMetadata("format", "pt");
  for (const model::GgufTensorInfo& t : f->tensors()) {
    const std::string hf = HfTensorName(t.name);
    if (hf.empty()) return Status::Unimplemented("export: no HF name for tensor '" + t.name + "'");
    const model::GgufTensorInfo* info = &t;
    w.AddTensor(hf, o.dtype, HfShape(t), [f, info, config, dtype = o.dtype]() {
      return ConvertTensor(*info, config, dtype);
    });
  }
  HEARTH_RETURN_IF_ERROR(w.WriteFile(o.out_dir + "/model.safetensors"));
  model::HfConfigExtras extras;
  extras.torch_dtype = o.dtype == model::SafetensorsDtype::kF32 ? "float32"
                       : o.dtype == model::SafetensorsDtype::kF16 ? "float16" : "bfloat16";
  if (auto bos = f->GetInt("tokenizer.ggml.bos_token_id"); bos.ok()) extras.bos_token_id = *bos;
  if (auto eos = f->GetInt("tokenizer.ggml.eos_token_id"); eos.ok()) extras.eos_token_id = *eos;
  model::LlamaConfig hf_config = config;
  hf_config.rope_style = model::RopeStyle::kNeox;  // the rows were un-permuted above
  HEARTH_RETURN_IF_ERROR(WriteText(o.out_dir + "/config.json", model::LlamaConfigToHfJson(hf_config, extras)));
  std::string gen = "{\"_from_model_config\":true";
  if (extras.bos_token_id) gen += ",\"bos_token_id\":" + std::to_string(*extras.bos_token_id);
  if (extras.eos_token_id) gen += ",\"eos_token_id\":" + std::to_string(*extras.eos_token_id);
  gen += "}";
  return WriteText(o.out_dir + "/generation_config.json", gen);
}

}  // namespace hearth::tools
