#include "gpu_worker/attention_router.h"

#include <algorithm>

namespace hearth::worker {

StatusOr<std::unique_ptr<AttentionRouter>> AttentionRouter::Create(const LongContextOptions& options,
                                                                   const KvCache& cache, int32_t num_layers,
                                                                   int32_t num_heads) {
  std::unique_ptr<AttentionRouter> router(new AttentionRouter(options, cache));
  if (!options.sample_attention) return router;
  const kernels::SampleAttentionParams& p = options.sample_attention_params;
  if (p.segment <= 0 || p.segment % cache.block_size() != 0 || !(p.alpha > 0.0f && p.alpha <= 1.0f) ||
      options.sample_attention_min_position < 0) {
    return Status::InvalidArgument("sample_attention: segment must be a positive multiple of " +
                                   std::to_string(cache.block_size()) + ", alpha in (0, 1], min_position >= 0");
  }
  const kernels::KvCacheLayer& l0 = cache.layer(0);
  kernels::QuerySamplePool proto{cache.block_size(), cache.num_blocks(), num_heads, l0.head_dim, nullptr};
  const size_t per_layer = kernels::QuerySamplePoolBytes(proto) / sizeof(uint16_t);
  router->samples_memory_.assign(per_layer * num_layers, 0);
  for (int32_t i = 0; i < num_layers; ++i) {
    kernels::QuerySamplePool pool = proto;
    pool.q = router->samples_memory_.data() + per_layer * i;
    router->samples_.push_back(pool);
  }
  return router;
}

Status AttentionRouter::Attend(int layer, std::span<const kernels::AttnSeq> seqs, std::span<const int64_t> prompt_ends,
                               const float* q, int32_t num_heads, float* out, kernels::ThreadPool& pool) {
  const kernels::KvCacheLayer& kv = cache_.layer(layer);
  const int32_t num_seqs = static_cast<int32_t>(seqs.size());
  if (!options_.sample_attention) return kernels::Attention(kv, seqs.data(), num_seqs, q, num_heads, out, pool);
  const kernels::QuerySamplePool& samples = samples_[layer];
  HEARTH_RETURN_IF_ERROR(kernels::WriteQuerySamples(samples, seqs.data(), num_seqs, q));
  // Each sequence's rows split into [start, lo) dense, [lo, hi) sparse, [hi, end) dense.
  dense_.clear();
  sparse_.clear();
  for (size_t i = 0; i < seqs.size(); ++i) {
    const kernels::AttnSeq& s = seqs[i];
    const int64_t end = s.start_pos + s.num_q;
    const int64_t lo = std::clamp(options_.sample_attention_min_position, s.start_pos, end);
    const int64_t hi = std::clamp(prompt_ends[i], lo, end);
    auto part = [&](int64_t from, int64_t to, std::vector<kernels::AttnSeq>& into) {
      if (from >= to) return;
      kernels::AttnSeq p = s;
      p.start_pos = from;
      p.num_q = static_cast<int32_t>(to - from);
      p.q_row_offset = s.q_row_offset + static_cast<int32_t>(from - s.start_pos);
      into.push_back(p);
    };
    part(s.start_pos, lo, dense_);
    part(lo, hi, sparse_);
    part(hi, end, dense_);
  }
  HEARTH_RETURN_IF_ERROR(
      kernels::Attention(kv, dense_.data(), static_cast<int32_t>(dense_.size()), q, num_heads, out, pool));
  return kernels::SampleAttention(kv, samples, sparse_.data(), static_cast<int32_t>(sparse_.size()), q, num_heads,
                                  options_.sample_attention_params, out, pool);
}

}  // namespace hearth::worker
