#include "gpu_worker/llama_weights.h"

#include <cstring>
#include <string>

#include "kernels/cpu/quant.h"
#include "kernels/cpu/rope.h"

namespace hearth::worker {
namespace {

using model::GgufFile;
using model::GgufTensorInfo;

std::string Shape(const std::vector<uint64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// Checks that `name` exists with dims (cols, rows) (GGUF order: row length first).
StatusOr<const GgufTensorInfo*> FindTensor(const GgufFile& file, const std::string& name,
                                           std::vector<uint64_t> want) {
  const GgufTensorInfo* t = file.FindTensor(name);
  if (t == nullptr) return Status::NotFound("model has no tensor '" + name + "'");
  if (t->dims != want) {
    return Status::InvalidArgument("tensor '" + name + "' has shape " + Shape(t->dims) + ", expected " + Shape(want));
  }
  return t;
}

StatusOr<kernels::WeightView> Matrix(const GgufFile& file, const std::string& name, uint64_t rows, uint64_t cols,
                                     uint64_t* total) {
  HEARTH_ASSIGN_OR_RETURN(const GgufTensorInfo* t, FindTensor(file, name, {cols, rows}));
  uint32_t id = static_cast<uint32_t>(t->type);
  if (!kernels::IsKnownWeightType(id)) {
    return Status::Unimplemented("tensor '" + name + "' has type " + model::GgmlTypeName(t->type) +
                                 ", which the CPU kernels do not support");
  }
  auto type = static_cast<kernels::WeightType>(id);
  HEARTH_ASSIGN_OR_RETURN(size_t row_bytes, kernels::RowBytes(type, static_cast<int64_t>(cols)));
  if (row_bytes * rows != t->num_bytes) return Status::Corruption("tensor '" + name + "' has the wrong byte size");
  *total += t->num_bytes;
  return kernels::WeightView{type, static_cast<int64_t>(rows), static_cast<int64_t>(cols), t->data, row_bytes};
}

// A vector of `n` floats: points into the file when stored as F32, else is
// widened into owned memory.
StatusOr<const float*> Vector(const GgufFile& file, const std::string& name, uint64_t n, LlamaWeights* w) {
  HEARTH_ASSIGN_OR_RETURN(const GgufTensorInfo* t, FindTensor(file, name, {n}));
  uint32_t id = static_cast<uint32_t>(t->type);
  if (!kernels::IsKnownWeightType(id)) return Status::Unimplemented("tensor '" + name + "' has an unsupported type");
  auto type = static_cast<kernels::WeightType>(id);
  HEARTH_ASSIGN_OR_RETURN(size_t bytes, kernels::RowBytes(type, static_cast<int64_t>(n)));
  if (bytes != t->num_bytes) return Status::Corruption("tensor '" + name + "' has the wrong byte size");
  w->num_weight_bytes += bytes;
  // The mapping is page-aligned and GGUF data offsets are aligned to at least
  // 8 bytes in practice; widen anything unaligned rather than read it as float.
  if (type == kernels::WeightType::kF32 && reinterpret_cast<uintptr_t>(t->data) % alignof(float) == 0) {
    return reinterpret_cast<const float*>(t->data);
  }
  auto owned = std::make_unique<float[]>(n);
  kernels::DequantizeRow(type, t->data, owned.get(), static_cast<int64_t>(n));
  w->owned.push_back(std::move(owned));
  return w->owned.back().get();
}

Status LoadLayer(const GgufFile& file, uint32_t i, LlamaWeights* w) {
  const model::LlamaConfig& c = w->config;
  const uint64_t q_dim = uint64_t{c.num_heads} * c.head_dim;
  const uint64_t kv_dim = uint64_t{c.num_kv_heads} * c.head_dim;
  const std::string p = "blk." + std::to_string(i) + ".";
  LayerWeights& l = w->layers[i];
  uint64_t* total = &w->num_weight_bytes;
  HEARTH_ASSIGN_OR_RETURN(l.attn_norm, Vector(file, p + "attn_norm.weight", c.hidden, w));
  HEARTH_ASSIGN_OR_RETURN(l.wq, Matrix(file, p + "attn_q.weight", q_dim, c.hidden, total));
  HEARTH_ASSIGN_OR_RETURN(l.wk, Matrix(file, p + "attn_k.weight", kv_dim, c.hidden, total));
  HEARTH_ASSIGN_OR_RETURN(l.wv, Matrix(file, p + "attn_v.weight", kv_dim, c.hidden, total));
  HEARTH_ASSIGN_OR_RETURN(l.wo, Matrix(file, p + "attn_output.weight", c.hidden, q_dim, total));
  if (c.qkv_bias) {
    HEARTH_ASSIGN_OR_RETURN(l.bq, Vector(file, p + "attn_q.bias", q_dim, w));
    HEARTH_ASSIGN_OR_RETURN(l.bk, Vector(file, p + "attn_k.bias", kv_dim, w));
    HEARTH_ASSIGN_OR_RETURN(l.bv, Vector(file, p + "attn_v.bias", kv_dim, w));
  }
  HEARTH_ASSIGN_OR_RETURN(l.ffn_norm, Vector(file, p + "ffn_norm.weight", c.hidden, w));
  HEARTH_ASSIGN_OR_RETURN(l.w_gate, Matrix(file, p + "ffn_gate.weight", c.ffn_hidden, c.hidden, total));
  HEARTH_ASSIGN_OR_RETURN(l.w_up, Matrix(file, p + "ffn_up.weight", c.ffn_hidden, c.hidden, total));
  HEARTH_ASSIGN_OR_RETURN(l.w_down, Matrix(file, p + "ffn_down.weight", c.hidden, c.ffn_hidden, total));
  return Status::Ok();
}

Status LoadRopeFactors(const GgufFile& file, LlamaWeights* w) {
  const model::LlamaConfig& c = w->config;
  const uint64_t half = c.head_dim / 2;
  if (c.has_rope_freqs_tensor) {
    HEARTH_ASSIGN_OR_RETURN(const float* f, Vector(file, "rope_freqs.weight", half, w));
    w->rope_freq_factors.assign(f, f + half);
  } else if (c.rope_scaling.type == model::RopeScalingType::kLlama3) {
    w->rope_freq_factors = kernels::Llama3FreqFactors(
        static_cast<int32_t>(c.head_dim), c.rope_theta, c.rope_scaling.factor, c.rope_scaling.low_freq_factor,
        c.rope_scaling.high_freq_factor, static_cast<int32_t>(c.rope_scaling.original_max_position_embeddings));
  } else if (c.rope_scaling.type == model::RopeScalingType::kLinear) {
    w->rope_freq_factors.assign(half, c.rope_scaling.factor);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<LlamaWeights>> LoadLlamaWeights(const model::GgufFile& file) {
  auto w = std::make_unique<LlamaWeights>();
  HEARTH_ASSIGN_OR_RETURN(w->config, model::LlamaConfigFromGguf(file));
  HEARTH_RETURN_IF_ERROR(w->config.Validate());
  const model::LlamaConfig& c = w->config;
  HEARTH_ASSIGN_OR_RETURN(w->token_embd, Matrix(file, "token_embd.weight", c.vocab_size, c.hidden, &w->num_weight_bytes));
  w->layers.resize(c.num_layers);
  for (uint32_t i = 0; i < c.num_layers; ++i) HEARTH_RETURN_IF_ERROR(LoadLayer(file, i, w.get()));
  HEARTH_ASSIGN_OR_RETURN(w->output_norm, Vector(file, "output_norm.weight", c.hidden, w.get()));
  if (c.tied_embeddings) {
    w->output = w->token_embd;
  } else {
    HEARTH_ASSIGN_OR_RETURN(w->output, Matrix(file, "output.weight", c.vocab_size, c.hidden, &w->num_weight_bytes));
  }
  HEARTH_RETURN_IF_ERROR(LoadRopeFactors(file, w.get()));
  return w;
}

}  // namespace hearth::worker
