#include "gpu_worker/llama_runner.h"

#include <cstring>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/embedding.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/rms_norm.h"
#include "kernels/cpu/rope.h"

namespace hearth::worker {
namespace {

void AddBias(float* x, const float* bias, int64_t n, int64_t d) {
  if (bias == nullptr) return;
  for (int64_t r = 0; r < n; ++r) kernels::Add(x + r * d, bias, d, x + r * d);
}

}  // namespace

LlamaRunner::LlamaRunner(const LlamaWeights& weights, KvCache& cache, kernels::ThreadPool& pool)
    : weights_(weights), cache_(cache), pool_(pool) {}

Status LlamaRunner::SetLongContext(const LongContextOptions& options) {
  const model::LlamaConfig& c = weights_.config;
  HEARTH_ASSIGN_OR_RETURN(router_, AttentionRouter::Create(options, cache_, static_cast<int32_t>(c.num_layers),
                                                           static_cast<int32_t>(c.num_heads)));
  return Status::Ok();
}

Status LlamaRunner::Attend(int layer) {
  const int32_t num_heads = static_cast<int32_t>(weights_.config.num_heads);
  if (router_) return router_->Attend(layer, attn_seqs_, prompt_ends_, q_.data(), num_heads, attn_.data(), pool_);
  return kernels::Attention(cache_.layer(layer), attn_seqs_.data(), static_cast<int32_t>(attn_seqs_.size()), q_.data(),
                            num_heads, attn_.data(), pool_);
}

Status LlamaRunner::Validate(const Batch& batch) const {
  const int64_t bs = cache_.block_size();
  const int64_t max_pos = weights_.config.context_length;
  for (size_t i = 0; i < batch.seqs.size(); ++i) {
    const BatchSequence& s = batch.seqs[i];
    const int64_t end = s.start_pos + static_cast<int64_t>(s.tokens.size());
    if (s.tokens.empty() || s.start_pos < 0) return Status::InvalidArgument("batch sequence " + std::to_string(i) + " is empty");
    if (end > max_pos) {
      return Status::InvalidArgument("sequence " + std::to_string(i) + " reaches position " + std::to_string(end) +
                                     ", past the model's context of " + std::to_string(max_pos));
    }
    if (static_cast<int64_t>(s.block_table.size()) * bs < end) {
      return Status::InvalidArgument("sequence " + std::to_string(i) + " has too few KV blocks");
    }
    for (int32_t b : s.block_table) {
      if (b < 0 || b >= cache_.num_blocks()) return Status::InvalidArgument("KV block id out of range");
    }
    for (int32_t t : s.tokens) {
      if (t < 0 || t >= static_cast<int32_t>(weights_.config.vocab_size)) {
        return Status::InvalidArgument("token id " + std::to_string(t) + " outside the vocabulary");
      }
    }
  }
  return Status::Ok();
}

void LlamaRunner::Resize(int64_t n) {
  if (n <= capacity_) return;
  const model::LlamaConfig& c = weights_.config;
  const int64_t q_dim = int64_t{c.num_heads} * c.head_dim;
  const int64_t kv_dim = int64_t{c.num_kv_heads} * c.head_dim;
  x_.resize(n * c.hidden);
  h_.resize(n * c.hidden);
  q_.resize(n * q_dim);
  k_.resize(n * kv_dim);
  v_.resize(n * kv_dim);
  attn_.resize(n * q_dim);
  gate_.resize(n * c.ffn_hidden);
  up_.resize(n * c.ffn_hidden);
  out_.resize(n * c.hidden);
  capacity_ = n;
}

Status LlamaRunner::Forward(const Batch& batch, float* logits, float* hidden) {
  HEARTH_RETURN_IF_ERROR(Validate(batch));
  const model::LlamaConfig& c = weights_.config;
  const int64_t n = batch.NumTokens();
  if (n == 0) return Status::Ok();
  Resize(n);

  tokens_.clear();
  positions_.clear();
  attn_seqs_.clear();
  prompt_ends_.clear();
  for (const BatchSequence& s : batch.seqs) {
    kernels::AttnSeq a;
    a.start_pos = s.start_pos;
    a.num_q = static_cast<int32_t>(s.tokens.size());
    a.q_row_offset = static_cast<int32_t>(tokens_.size());
    a.block_table = s.block_table.data();
    a.num_blocks = static_cast<int32_t>(s.block_table.size());
    attn_seqs_.push_back(a);
    prompt_ends_.push_back(s.num_prompt_tokens);
    for (size_t j = 0; j < s.tokens.size(); ++j) {
      tokens_.push_back(s.tokens[j]);
      positions_.push_back(static_cast<int32_t>(s.start_pos + static_cast<int64_t>(j)));
    }
  }

  if (profile_) ++profile_->num_forwards;
  {
    StepOpTimer timer(profile_, StepOp::kEmbedding);
    HEARTH_RETURN_IF_ERROR(kernels::Embedding(weights_.token_embd, tokens_.data(), n, x_.data()));
  }
  for (int layer = 0; layer < static_cast<int>(c.num_layers); ++layer) {
    HEARTH_RETURN_IF_ERROR(RunLayer(layer, n));
  }

  // The final norm of every new token of the sequences that pool them (a row from that row
  // alone, like every kernel here, so batch and chunking leave them bit-identical).
  if (batch.NumHiddenRows() > 0) {
    if (hidden == nullptr) return Status::InvalidArgument("hidden states wanted but no buffer given");
    int64_t out_row = 0;
    for (const kernels::AttnSeq& a : attn_seqs_) {
      if (!batch.seqs[&a - attn_seqs_.data()].want_hidden) continue;
      kernels::RmsNorm(x_.data() + a.q_row_offset * int64_t{c.hidden}, weights_.output_norm, a.num_q, c.hidden,
                       c.rms_norm_eps, hidden + out_row * c.hidden);
      out_row += a.num_q;
    }
  }

  // Final norm and the vocabulary projection, only for rows that want logits.
  last_.resize(batch.NumLogitRows() * c.hidden);
  int64_t row = 0;
  for (const kernels::AttnSeq& a : attn_seqs_) {
    const BatchSequence& s = batch.seqs[&a - attn_seqs_.data()];
    if (!s.want_logits) continue;
    const float* src = x_.data() + (a.q_row_offset + a.num_q - 1) * int64_t{c.hidden};
    std::memcpy(last_.data() + row * c.hidden, src, sizeof(float) * c.hidden);
    ++row;
  }
  if (row == 0) return Status::Ok();
  StepOpTimer timer(profile_, StepOp::kLogits);
  kernels::RmsNorm(last_.data(), weights_.output_norm, row, c.hidden, c.rms_norm_eps, last_.data());
  return kernels::MatMul(weights_.output, last_.data(), row, logits, pool_);
}

Status LlamaRunner::RunLayer(int layer, int64_t n) {
  const model::LlamaConfig& c = weights_.config;
  const LayerWeights& w = weights_.layers[layer];
  const int64_t q_dim = int64_t{c.num_heads} * c.head_dim;
  const int64_t kv_dim = int64_t{c.num_kv_heads} * c.head_dim;

  // Attention block.
  {
    StepOpTimer timer(profile_, StepOp::kNorm);
    kernels::RmsNorm(x_.data(), w.attn_norm, n, c.hidden, c.rms_norm_eps, h_.data());
  }
  {
    StepOpTimer timer(profile_, StepOp::kQkv);
    const kernels::MatMulOutput qkv[] = {{&w.wq, q_.data()}, {&w.wk, k_.data()}, {&w.wv, v_.data()}};
    HEARTH_RETURN_IF_ERROR(kernels::MatMulShared(qkv, h_.data(), n, pool_));
    AddBias(q_.data(), w.bq, n, q_dim);
    AddBias(k_.data(), w.bk, n, kv_dim);
    AddBias(v_.data(), w.bv, n, kv_dim);
  }

  {
    StepOpTimer timer(profile_, StepOp::kRope);
    kernels::RopeParams rope;
    rope.style = c.rope_style == model::RopeStyle::kInterleaved ? kernels::RopeStyle::kInterleaved
                                                                 : kernels::RopeStyle::kNeox;
    rope.head_dim = static_cast<int32_t>(c.head_dim);
    rope.theta_base = c.rope_theta;
    rope.freq_factors = weights_.rope_freq_factors.empty() ? nullptr : weights_.rope_freq_factors.data();
    HEARTH_RETURN_IF_ERROR(
        kernels::ApplyRope(rope, q_.data(), n, static_cast<int32_t>(c.num_heads), positions_.data()));
    HEARTH_RETURN_IF_ERROR(
        kernels::ApplyRope(rope, k_.data(), n, static_cast<int32_t>(c.num_kv_heads), positions_.data()));
  }

  const kernels::KvCacheLayer& kv = cache_.layer(layer);
  const int32_t num_seqs = static_cast<int32_t>(attn_seqs_.size());
  {
    StepOpTimer timer(profile_, StepOp::kKvWrite);
    HEARTH_RETURN_IF_ERROR(kernels::WriteKv(kv, attn_seqs_.data(), num_seqs, k_.data(), v_.data()));
  }
  {
    StepOpTimer timer(profile_, StepOp::kAttention);
    HEARTH_RETURN_IF_ERROR(Attend(layer));
  }
  {
    StepOpTimer timer(profile_, StepOp::kAttnOut);
    HEARTH_RETURN_IF_ERROR(kernels::MatMul(w.wo, attn_.data(), n, out_.data(), pool_));
  }
  {
    StepOpTimer timer(profile_, StepOp::kResidual);
    kernels::Add(x_.data(), out_.data(), n * c.hidden, x_.data());
  }

  // Feed-forward block (SwiGLU).
  {
    StepOpTimer timer(profile_, StepOp::kNorm);
    kernels::RmsNorm(x_.data(), w.ffn_norm, n, c.hidden, c.rms_norm_eps, h_.data());
  }
  {
    StepOpTimer timer(profile_, StepOp::kGateUp);
    const kernels::MatMulOutput gate_up[] = {{&w.w_gate, gate_.data()}, {&w.w_up, up_.data()}};
    HEARTH_RETURN_IF_ERROR(kernels::MatMulShared(gate_up, h_.data(), n, pool_));
  }
  {
    StepOpTimer timer(profile_, StepOp::kSiluMul);
    kernels::SiluMul(gate_.data(), up_.data(), n * c.ffn_hidden, gate_.data());
  }
  {
    StepOpTimer timer(profile_, StepOp::kDown);
    HEARTH_RETURN_IF_ERROR(kernels::MatMul(w.w_down, gate_.data(), n, out_.data(), pool_));
  }
  StepOpTimer timer(profile_, StepOp::kResidual);
  kernels::Add(x_.data(), out_.data(), n * c.hidden, x_.data());
  return Status::Ok();
}

}  // namespace hearth::worker
