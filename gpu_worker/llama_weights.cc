#include "gpu_worker/llama_weights.h"

#include <algorithm>
#include <cstring>
#include <functional>
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
  const kernels::GgmlType type = t->type;
  if (!kernels::GgmlTypeIsSupported(type)) {
    return Status::Unimplemented("tensor '" + name + "' has type " + kernels::GgmlTypeName(type) +
                                 ", which the CPU kernels do not support");
  }
  HEARTH_ASSIGN_OR_RETURN(size_t row_bytes, kernels::RowBytes(type, static_cast<int64_t>(cols)));
  if (row_bytes * rows != t->num_bytes) return Status::Corruption("tensor '" + name + "' has the wrong byte size");
  *total += t->num_bytes;
  return kernels::WeightView{type, static_cast<int64_t>(rows), static_cast<int64_t>(cols), t->data, row_bytes};
}

// A vector of `n` floats: points into the file when stored as F32, else is
// widened into owned memory.
StatusOr<const float*> Vector(const GgufFile& file, const std::string& name, uint64_t n, LlamaWeights* w) {
  HEARTH_ASSIGN_OR_RETURN(const GgufTensorInfo* t, FindTensor(file, name, {n}));
  const kernels::GgmlType type = t->type;
  if (!kernels::GgmlTypeIsSupported(type))
    return Status::Unimplemented("tensor '" + name + "' has an unsupported type");
  HEARTH_ASSIGN_OR_RETURN(size_t bytes, kernels::RowBytes(type, static_cast<int64_t>(n)));
  if (bytes != t->num_bytes) return Status::Corruption("tensor '" + name + "' has the wrong byte size");
  w->num_weight_bytes += bytes;
  // The mapping is page-aligned and GGUF data offsets are aligned to at least
  // 8 bytes in practice; widen anything unaligned rather than read it as float.
  if (type == kernels::GgmlType::kF32 && reinterpret_cast<uintptr_t>(t->data) % alignof(float) == 0) {
    return reinterpret_cast<const float*>(t->data);
  }
  std::shared_ptr<float[]> owned(new float[n]);
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

// Moves views from one copy of a file's bytes to another (RebaseLlamaWeights).
// Addresses are compared as integers: the views may point anywhere.
class Rebaser {
 public:
  Rebaser(const LlamaWeights& w, const uint8_t* from, size_t size, const uint8_t* to)
      : from_(reinterpret_cast<uintptr_t>(from)), size_(size), to_(to) {
    for (const auto& o : w.owned) owned_.push_back(o.get());
    std::sort(owned_.begin(), owned_.end(), std::less<>());
  }

  Status View(kernels::WeightView* v, const char* name, int64_t layer) const {
    if (v->rows < 0 || (v->rows > 0 && v->row_bytes > size_ / static_cast<uint64_t>(v->rows))) {
      return Outside(name, layer);
    }
    return Move(&v->data, static_cast<uint64_t>(v->rows) * v->row_bytes, name, layer);
  }

  // `n` floats; null (an absent bias) and owned vectors stay as they are.
  Status Floats(const float** p, uint64_t n, const char* name, int64_t layer) const {
    if (*p == nullptr || std::binary_search(owned_.begin(), owned_.end(), *p, std::less<>())) return Status::Ok();
    auto* bytes = reinterpret_cast<const uint8_t*>(*p);
    HEARTH_RETURN_IF_ERROR(Move(&bytes, n * sizeof(float), name, layer));
    *p = reinterpret_cast<const float*>(bytes);
    return Status::Ok();
  }

 private:
  Status Move(const uint8_t** p, uint64_t bytes, const char* name, int64_t layer) const {
    const uintptr_t at = reinterpret_cast<uintptr_t>(*p);
    if (at < from_ || at - from_ > size_ || bytes > size_ - (at - from_)) return Outside(name, layer);
    *p = to_ + (at - from_);
    return Status::Ok();
  }

  Status Outside(const char* name, int64_t layer) const {
    const std::string where = layer < 0 ? "" : " of layer " + std::to_string(layer);
    return Status::InvalidArgument(std::string("weight '") + name + "'" + where +
                                   " is neither inside the file's bytes nor owned by the weights");
  }

  const uintptr_t from_;
  const size_t size_;
  const uint8_t* const to_;
  std::vector<const float*> owned_;  // sorted
};

}  // namespace

StatusOr<std::unique_ptr<LlamaWeights>> RebaseLlamaWeights(const LlamaWeights& w, const uint8_t* from, size_t size,
                                                           const uint8_t* to) {
  constexpr uintptr_t kAlignment = 64;
  if ((reinterpret_cast<uintptr_t>(to) - reinterpret_cast<uintptr_t>(from)) % kAlignment != 0) {
    return Status::InvalidArgument("rebasing weights by other than a multiple of 64 bytes");
  }
  auto out = std::make_unique<LlamaWeights>(w);
  const Rebaser r(w, from, size, to);
  const model::LlamaConfig& c = w.config;
  const uint64_t q_dim = uint64_t{c.num_heads} * c.head_dim;
  const uint64_t kv_dim = uint64_t{c.num_kv_heads} * c.head_dim;
  HEARTH_RETURN_IF_ERROR(r.View(&out->token_embd, "token_embd", -1));
  for (size_t i = 0; i < out->layers.size(); ++i) {
    LayerWeights& l = out->layers[i];
    const auto n = static_cast<int64_t>(i);
    HEARTH_RETURN_IF_ERROR(r.Floats(&l.attn_norm, c.hidden, "attn_norm", n));
    HEARTH_RETURN_IF_ERROR(r.View(&l.wq, "attn_q", n));
    HEARTH_RETURN_IF_ERROR(r.View(&l.wk, "attn_k", n));
    HEARTH_RETURN_IF_ERROR(r.View(&l.wv, "attn_v", n));
    HEARTH_RETURN_IF_ERROR(r.View(&l.wo, "attn_output", n));
    HEARTH_RETURN_IF_ERROR(r.Floats(&l.bq, q_dim, "attn_q.bias", n));
    HEARTH_RETURN_IF_ERROR(r.Floats(&l.bk, kv_dim, "attn_k.bias", n));
    HEARTH_RETURN_IF_ERROR(r.Floats(&l.bv, kv_dim, "attn_v.bias", n));
    HEARTH_RETURN_IF_ERROR(r.Floats(&l.ffn_norm, c.hidden, "ffn_norm", n));
    HEARTH_RETURN_IF_ERROR(r.View(&l.w_gate, "ffn_gate", n));
    HEARTH_RETURN_IF_ERROR(r.View(&l.w_up, "ffn_up", n));
    HEARTH_RETURN_IF_ERROR(r.View(&l.w_down, "ffn_down", n));
  }
  HEARTH_RETURN_IF_ERROR(r.Floats(&out->output_norm, c.hidden, "output_norm", -1));
  HEARTH_RETURN_IF_ERROR(r.View(&out->output, "output", -1));
  return out;
}

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
