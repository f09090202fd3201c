// SampleAttention: column selection from stored query samples, then attention
// over the kept columns and the local window.
#include "kernels/cpu/sample_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>

#include "kernels/cpu/fp16.h"
#include "kernels/cpu/isa_kernels.h"

namespace hearth::kernels {
namespace {

constexpr int32_t kTile = internal::kKeyTileT;  // keys per transposed score tile
constexpr int32_t kLanes = 16;
constexpr int32_t kMaxHeadDim = 512;

Status Validate(const KvCacheLayer& c, const QuerySamplePool& qs, int32_t num_heads,
                const SampleAttentionParams& p) {
  if (c.block_size <= 0 || c.num_kv_heads <= 0 || c.head_dim <= 0 || c.head_dim > kMaxHeadDim ||
      c.num_blocks < 0 || c.k == nullptr || c.v == nullptr) {
    return Status::InvalidArgument("bad KV cache layer shape");
  }
  if (qs.q == nullptr || qs.block_size != c.block_size || qs.num_blocks != c.num_blocks ||
      qs.head_dim != c.head_dim || qs.num_heads != num_heads) {
    return Status::InvalidArgument("query sample pool does not match the KV cache");
  }
  if (num_heads <= 0 || num_heads % c.num_kv_heads != 0 || num_heads / c.num_kv_heads > 64) {
    return Status::InvalidArgument("num_heads is not a multiple (<= 64x) of num_kv_heads");
  }
  if (p.segment <= 0 || p.segment % c.block_size != 0 || !(p.alpha > 0.0f && p.alpha <= 1.0f)) {
    return Status::InvalidArgument("segment must be a positive multiple of block_size and alpha in (0, 1]");
  }
  return Status::Ok();
}

Status ValidateSeq(const KvCacheLayer& c, const AttnSeq& s) {
  if (s.start_pos < 0 || s.num_q < 0 || s.q_row_offset < 0) return Status::InvalidArgument("negative sequence field");
  const int64_t end = s.start_pos + s.num_q;
  if (end > static_cast<int64_t>(s.num_blocks) * c.block_size) {
    return Status::InvalidArgument("block table does not cover position " + std::to_string(end - 1));
  }
  const int64_t used = (end + c.block_size - 1) / c.block_size;
  for (int64_t b = 0; b < used; ++b) {
    if (s.block_table[b] < 0 || s.block_table[b] >= c.num_blocks) return Status::InvalidArgument("block id out of range");
  }
  return Status::Ok();
}

// Positions [0, n) of kv head g as f32 rows [n, head_dim].
void LoadRows(const KvCacheLayer& c, const AttnSeq& s, const void* pool, int32_t g, int64_t n,
              internal::DequantFn f16_to_f32, float* dst) {
  for (int64_t p = 0; p < n; ++p) {
    const int64_t slot = static_cast<int64_t>(s.block_table[p / c.block_size]) * c.block_size + p % c.block_size;
    const int64_t off = (slot * c.num_kv_heads + g) * c.head_dim;
    float* row = dst + p * c.head_dim;
    if (c.dtype == KvDtype::kF32) {
      std::memcpy(row, static_cast<const float*>(pool) + off, c.head_dim * sizeof(float));
    } else {
      f16_to_f32(reinterpret_cast<const uint8_t*>(static_cast<const uint16_t*>(pool) + off), row, c.head_dim);
    }
  }
}

// Rows idx[0..n) of `rows` [*, hd] into transposed tiles [ceil(n / kTile), hd, kTile], zero-padded.
void Transpose(const float* rows, const int32_t* idx, int64_t n, int32_t hd, float* tiles) {
  for (int64_t t0 = 0; t0 < n; t0 += kTile) {
    float* kt = tiles + t0 * hd;
    for (int32_t j = 0; j < kTile; ++j) {
      const float* src = t0 + j < n ? rows + static_cast<int64_t>(idx[t0 + j]) * hd : nullptr;
      for (int32_t i = 0; i < hd; ++i) kt[i * kTile + j] = src ? src[i] : 0.0f;
    }
  }
}

// Scores of qv against the first n keys of `tiles`, into s[0..n).
void Scores(const internal::IsaKernels& kern, const float* qv, const float* tiles, int64_t n, int32_t hd, float* s) {
  for (int64_t t0 = 0; t0 < n; t0 += kTile) {
    float tile_out[kTile];
    kern.scores_t(qv, tiles + t0 * hd, hd, tile_out);
    std::memcpy(s + t0, tile_out, std::min<int64_t>(kTile, n - t0) * sizeof(float));
  }
}

float ReduceLanes(float* lane) {
  for (int32_t h = kLanes / 2; h >= 1; h /= 2) {
    for (int32_t l = 0; l < h; ++l) lane[l] += lane[l + h];
  }
  return lane[0];
}

// The softmax of paged_attention.cc: scaled scores, the maximum, exps, their
// sum over 16 lanes per 16 keys (chunk sums in double), normalized and, with
// an f16 cache, rounded to f16.
void Softmax(const internal::IsaKernels& kern, float* s, int64_t len, float scale, bool round_f16) {
  float max = -INFINITY;
  for (int64_t j = 0; j < len; ++j) {
    s[j] *= scale;
    max = std::max(max, s[j]);
  }
  kern.exp_sum(s, len, max);
  double sum = 0.0;
  for (int64_t j0 = 0; j0 < len; j0 += kLanes) {
    float lane[kLanes] = {};
    for (int64_t l = 0; l < kLanes && j0 + l < len; ++l) lane[l] = s[j0 + l];
    sum += ReduceLanes(lane);
  }
  const float inv = static_cast<float>(1.0 / sum);
  if (round_f16) {
    kern.scale_round_f16(s, len, inv);
  } else {
    for (int64_t j = 0; j < len; ++j) s[j] *= inv;
  }
}

struct Args {
  const KvCacheLayer* cache;
  const QuerySamplePool* samples;
  const float* q;
  float* out;
  int32_t num_heads;
  SampleAttentionParams params;
  float scale;
};

// Per-thread buffers, carved from one scratch allocation for positions < cap.
struct Scratch {
  float* k;        // [cap, hd] keys
  float* v;        // [cap, hd] values
  float* kt;       // [cap, hd] all keys, transposed tiles
  float* sel_kt;   // [cap, hd] the selected keys, transposed tiles
  float* sel_v;    // [cap, hd] the selected values
  float* probs;    // [cap]
  double* mass;    // [cap] summed sample probabilities per column
  int32_t* order;  // [cap]
  float* lanes;    // [kLanes, hd]
  float* qv;       // [hd]

  static size_t Bytes(int64_t cap, int32_t hd) {
    return static_cast<size_t>(cap) * (5 * hd + 1) * sizeof(float) + cap * (sizeof(double) + sizeof(int32_t)) +
           static_cast<size_t>(kLanes + 1) * hd * sizeof(float) + 64;
  }
  Scratch(uint8_t* mem, int64_t cap, int32_t hd) {
    auto take = [&](size_t bytes) {
      uint8_t* p = mem;
      mem += (bytes + 7) / 8 * 8;
      return p;
    };
    const size_t rows = static_cast<size_t>(cap) * hd * sizeof(float);
    mass = reinterpret_cast<double*>(take(cap * sizeof(double)));
    k = reinterpret_cast<float*>(take(rows));
    v = reinterpret_cast<float*>(take(rows));
    kt = reinterpret_cast<float*>(take(rows));
    sel_kt = reinterpret_cast<float*>(take(rows));
    sel_v = reinterpret_cast<float*>(take(rows));
    probs = reinterpret_cast<float*>(take(cap * sizeof(float)));
    order = reinterpret_cast<int32_t*>(take(cap * sizeof(int32_t)));
    lanes = reinterpret_cast<float*>(take(kLanes * hd * sizeof(float)));
    qv = reinterpret_cast<float*>(take(hd * sizeof(float)));
  }
};

// Columns before w0 that query head `head` keeps for segment [w0 + segment, ...),
// ascending, into sel; returns how many.
int64_t SelectColumns(const Args& a, const AttnSeq& s, int32_t head, int64_t w0, int64_t seg_start, Scratch& m) {
  const KvCacheLayer& c = *a.cache;
  const int32_t hd = c.head_dim;
  const bool f16 = c.dtype == KvDtype::kF16;
  const internal::IsaKernels& kern = internal::Kernels(ActiveIsa());
  std::fill(m.mass, m.mass + w0, 0.0);
  double window_mass = 0.0;
  for (int64_t t = w0; t < seg_start; t += c.block_size) {
    const uint16_t* src = a.samples->q + (static_cast<int64_t>(s.block_table[t / c.block_size]) * a.num_heads + head) * hd;
    for (int32_t i = 0; i < hd; ++i) m.qv[i] = F16ToF32(src[i]);
    Scores(kern, m.qv, m.kt, t + 1, hd, m.probs);
    Softmax(kern, m.probs, t + 1, a.scale, f16);
    for (int64_t j = 0; j < w0; ++j) m.mass[j] += m.probs[j];
    for (int64_t j = w0; j <= t; ++j) window_mass += m.probs[j];
  }
  double total = window_mass;
  for (int64_t j = 0; j < w0; ++j) total += m.mass[j];
  std::iota(m.order, m.order + w0, 0);
  std::sort(m.order, m.order + w0, [&](int32_t x, int32_t y) {
    return m.mass[x] != m.mass[y] ? m.mass[x] > m.mass[y] : x < y;
  });
  const double goal = static_cast<double>(a.params.alpha) * total;
  double kept = window_mass;
  int64_t n = 0;
  while (n < w0 && kept < goal) kept += m.mass[m.order[n++]];
  std::sort(m.order, m.order + n);
  return n;
}

// One task: the rows of sequence s in segment [seg_start, seg_start + segment), kv head g.
void RunSegment(const Args& a, const AttnSeq& s, int32_t g, int64_t seg_start, uint8_t* scratch) {
  const KvCacheLayer& c = *a.cache;
  const int32_t hd = c.head_dim;
  const int32_t group = a.num_heads / c.num_kv_heads;
  const int64_t seg = a.params.segment;
  const bool f16 = c.dtype == KvDtype::kF16;
  const internal::IsaKernels& kern = internal::Kernels(ActiveIsa());
  const internal::DequantFn f16_to_f32 = internal::DequantFor(ActiveIsa(), GgmlType::kF16);
  const int64_t p_first = std::max<int64_t>(s.start_pos, seg_start);
  const int64_t p_last = std::min<int64_t>(s.start_pos + s.num_q, seg_start + seg) - 1;
  const int64_t cap = p_last + 1;
  Scratch m(scratch, (cap + kTile - 1) / kTile * kTile, hd);
  const int64_t w0 = std::max<int64_t>(0, seg_start - seg);
  LoadRows(c, s, c.k, g, cap, f16_to_f32, m.k);
  LoadRows(c, s, c.v, g, cap, f16_to_f32, m.v);
  if (w0 > 0) {  // every key a sample sees, for the selection
    std::iota(m.order, m.order + seg_start, 0);
    Transpose(m.k, m.order, seg_start, hd, m.kt);
  }
  for (int32_t h = 0; h < group; ++h) {
    const int32_t head = g * group + h;
    const int64_t num_sel = w0 > 0 ? SelectColumns(a, s, head, w0, seg_start, m) : 0;
    // The key list: kept columns, then the window [w0, p_last].
    for (int64_t j = w0; j <= p_last; ++j) m.order[num_sel + j - w0] = static_cast<int32_t>(j);
    const int64_t list_len = num_sel + p_last - w0 + 1;
    Transpose(m.k, m.order, list_len, hd, m.sel_kt);
    for (int64_t j = 0; j < list_len; ++j) {
      std::memcpy(m.sel_v + j * hd, m.v + static_cast<int64_t>(m.order[j]) * hd, hd * sizeof(float));
    }
    for (int64_t p = p_first; p <= p_last; ++p) {
      const int64_t row = s.q_row_offset + (p - s.start_pos);
      const float* src = a.q + (row * a.num_heads + head) * hd;
      for (int32_t i = 0; i < hd; ++i) m.qv[i] = f16 ? RoundToF16(src[i]) : src[i];
      const int64_t n = num_sel + p - w0 + 1;
      Scores(kern, m.qv, m.sel_kt, n, hd, m.probs);
      Softmax(kern, m.probs, n, a.scale, f16);
      std::fill(m.lanes, m.lanes + kLanes * hd, 0.0f);
      kern.axpy_lanes16(m.probs, m.sel_v, n, hd, m.lanes);
      for (int32_t half = kLanes / 2; half >= 1; half /= 2) {
        for (int32_t l = 0; l < half; ++l) {
          for (int32_t i = 0; i < hd; ++i) m.lanes[l * hd + i] += m.lanes[(l + half) * hd + i];
        }
      }
      std::memcpy(a.out + (row * a.num_heads + head) * hd, m.lanes, hd * sizeof(float));
    }
  }
}

}  // namespace

size_t QuerySamplePoolBytes(const QuerySamplePool& p) {
  return static_cast<size_t>(p.num_blocks) * p.num_heads * p.head_dim * sizeof(uint16_t);
}

Status WriteQuerySamples(const QuerySamplePool& samples, const AttnSeq* seqs, int32_t num_seqs, const float* q) {
  if (samples.q == nullptr || samples.block_size <= 0 || samples.num_heads <= 0 || samples.head_dim <= 0) {
    return Status::InvalidArgument("bad query sample pool");
  }
  const int64_t width = static_cast<int64_t>(samples.num_heads) * samples.head_dim;
  for (int32_t i = 0; i < num_seqs; ++i) {
    const AttnSeq& s = seqs[i];
    if (s.start_pos < 0 || s.num_q < 0 || s.start_pos + s.num_q > static_cast<int64_t>(s.num_blocks) * samples.block_size) {
      return Status::InvalidArgument("block table does not cover the sequence");
    }
    const int64_t first = (s.start_pos + samples.block_size - 1) / samples.block_size * samples.block_size;
    for (int64_t p = first; p < s.start_pos + s.num_q; p += samples.block_size) {
      const int32_t block = s.block_table[p / samples.block_size];
      if (block < 0 || block >= samples.num_blocks) return Status::InvalidArgument("block id out of range");
      const float* src = q + (s.q_row_offset + (p - s.start_pos)) * width;
      uint16_t* dst = samples.q + static_cast<int64_t>(block) * width;
      for (int64_t e = 0; e < width; ++e) dst[e] = F32ToF16(src[e]);
    }
  }
  return Status::Ok();
}

Status SampleAttention(const KvCacheLayer& cache, const QuerySamplePool& samples, const AttnSeq* seqs,
                       int32_t num_seqs, const float* q, int32_t num_heads, const SampleAttentionParams& params,
                       float* out, ThreadPool& pool) {
  HEARTH_RETURN_IF_ERROR(Validate(cache, samples, num_heads, params));
  // Task t of sequence i is t - first[i] in (segment, kv head) order.
  auto* first = reinterpret_cast<int64_t*>(pool.SharedScratch(sizeof(int64_t) * (num_seqs + 1)));
  first[0] = 0;
  int64_t max_len = 0;
  for (int32_t i = 0; i < num_seqs; ++i) {
    const AttnSeq& s = seqs[i];
    HEARTH_RETURN_IF_ERROR(ValidateSeq(cache, s));
    const int64_t segs = s.num_q == 0 ? 0 : (s.start_pos + s.num_q - 1) / params.segment - s.start_pos / params.segment + 1;
    first[i + 1] = first[i] + segs * cache.num_kv_heads;
    max_len = std::max(max_len, s.start_pos + s.num_q);
  }
  const Args args{&cache, &samples, q, out, num_heads, params, 1.0f / std::sqrt(static_cast<float>(cache.head_dim))};
  // Transposed tiles round up to kTile keys.
  const int64_t cap = (max_len + kTile - 1) / kTile * kTile;
  const size_t scratch_bytes = Scratch::Bytes(cap, cache.head_dim);
  pool.Run(first[num_seqs], [&](int64_t t, int thread) {
    const int32_t i = static_cast<int32_t>(std::upper_bound(first, first + num_seqs + 1, t) - first - 1);
    const AttnSeq& s = seqs[i];
    const int64_t local = t - first[i];
    const int32_t g = static_cast<int32_t>(local % cache.num_kv_heads);
    const int64_t seg_start = (s.start_pos / params.segment + local / cache.num_kv_heads) * params.segment;
    RunSegment(args, s, g, seg_start, pool.ThreadScratch(thread, scratch_bytes));
  });
  return Status::Ok();
}

}  // namespace hearth::kernels
