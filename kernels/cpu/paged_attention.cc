// Paged attention: fixed-order two-pass softmax per (query row, head).
#include "kernels/cpu/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "kernels/cpu/fp16.h"
#include "kernels/cpu/isa_kernels.h"

namespace hearth::kernels {
namespace {

constexpr int32_t kKeyTile = internal::kKeyTileT;  // key/value positions converted to f32 at a time
static_assert(kKeyTile % 16 == 0, "value sums assume a tile starts at lane 0");
constexpr int32_t kQueryTile = 16;  // query rows per task, sharing each converted key tile
constexpr int32_t kMaxHeadDim = 512;

size_t ElemBytes(KvDtype dtype) { return dtype == KvDtype::kF16 ? 2 : 4; }

// Offset in elements of (position, kv head) of a sequence in a pool.
int64_t SlotOffset(const KvCacheLayer& c, const AttnSeq& s, int64_t pos, int32_t head) {
  const int64_t block = s.block_table[pos / c.block_size];
  const int64_t slot = block * c.block_size + pos % c.block_size;
  return (slot * c.num_kv_heads + head) * c.head_dim;
}

Status ValidateCache(const KvCacheLayer& c) {
  if (c.block_size <= 0 || c.num_kv_heads <= 0 || c.head_dim <= 0 || c.head_dim > kMaxHeadDim ||
      c.num_blocks < 0 || c.k == nullptr || c.v == nullptr) {
    return Status::InvalidArgument("bad KV cache layer shape");
  }
  return Status::Ok();
}

Status ValidateSeq(const KvCacheLayer& c, const AttnSeq& s) {
  if (s.start_pos < 0 || s.num_q < 0 || s.q_row_offset < 0) {
    return Status::InvalidArgument("negative sequence field");
  }
  const int64_t end = s.start_pos + s.num_q;
  if (end > static_cast<int64_t>(s.num_blocks) * c.block_size) {
    return Status::InvalidArgument("block table of " + std::to_string(s.num_blocks) +
                                   " blocks does not cover position " + std::to_string(end - 1));
  }
  const int64_t used = (end + c.block_size - 1) / c.block_size;
  for (int64_t b = 0; b < used; ++b) {
    if (s.block_table[b] < 0 || s.block_table[b] >= c.num_blocks) {
      return Status::InvalidArgument("block id " + std::to_string(s.block_table[b]) + " out of range");
    }
  }
  return Status::Ok();
}

void StoreRow(KvDtype dtype, const float* src, void* pool, int64_t offset, int32_t n) {
  if (dtype == KvDtype::kF32) {
    std::memcpy(static_cast<float*>(pool) + offset, src, n * sizeof(float));
  } else {
    uint16_t* dst = static_cast<uint16_t*>(pool) + offset;
    for (int32_t i = 0; i < n; ++i) dst[i] = F32ToF16(src[i]);
  }
}

// Converts positions [p0, p0 + n) of one kv head of a sequence to f32 rows.
// (f16 -> f32 is exact, so which converter runs does not change results.)
void LoadTile(const KvCacheLayer& c, const AttnSeq& s, const void* pool, int32_t head, int64_t p0,
              int32_t n, internal::DequantFn f16_to_f32, float* dst /* [n, head_dim] */) {
  for (int32_t j = 0; j < n; ++j) {
    const int64_t off = SlotOffset(c, s, p0 + j, head);
    float* row = dst + static_cast<int64_t>(j) * c.head_dim;
    if (c.dtype == KvDtype::kF32) {
      std::memcpy(row, static_cast<const float*>(pool) + off, c.head_dim * sizeof(float));
    } else {
      f16_to_f32(reinterpret_cast<const uint8_t*>(static_cast<const uint16_t*>(pool) + off), row, c.head_dim);
    }
  }
}

// Lanes of the fixed 16-lane reduction order (llama.cpp's AVX-512 f16
// matmul for a multi-token batch): element i goes to lane i % 16, each lane sums its elements in
// order, then the lanes are added pairwise in halves (l + l+8, then l + l+4,
// l + l+2, l + l+1). Scores use it over dimensions (IsaKernels::scores_t),
// the softmax sum and the value sums over keys.
constexpr int32_t kLanes = 16;

float ReduceLanes(float* lane) {
  for (int32_t h = kLanes / 2; h >= 1; h /= 2) {
    for (int32_t l = 0; l < h; ++l) lane[l] += lane[l + h];
  }
  return lane[0];
}

// Softmax of one (query row, head) over its len scores, in place:
// s[j] = exp(s[j]*scale - max) / sum, the sum taken as llama.cpp does,
// each probability rounded to f16 when the cache is f16 (the probabilities
// then multiply f16 values, as llama.cpp's non-flash path does).
void Softmax(const internal::IsaKernels& kern, float* s, int64_t len, float scale, bool round_f16) {
  for (int64_t j = 0; j < len; ++j) s[j] *= scale;
  // The maximum does not depend on the order; eight running maxima let the
  // compiler vectorize.
  float part[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  int64_t j = 0;
  for (; j + 8 <= len; j += 8) {
    for (int l = 0; l < 8; ++l) part[l] = std::max(part[l], s[j + l]);
  }
  for (; j < len; ++j) part[0] = std::max(part[0], s[j]);
  float max = part[0];
  for (int l = 1; l < 8; ++l) max = std::max(max, part[l]);
  kern.exp_sum(s, len, max);
  // Each 16 exps summed as 16 lanes (as above), the chunk sums in double.
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

struct AttnArgs {
  const KvCacheLayer* cache;
  const AttnSeq* seqs;
  const float* q;
  float* out;
  int32_t num_heads;
  float scale;
  int64_t row_len;  // floats per score row in scratch (a multiple of kKeyTile)
};

// One task: rows [r0, r1) of a sequence, all query heads of kv head g.
// Three passes per row: scores against every key 0..pos, softmax over the
// whole row, then probabilities times values. With an f16 cache, q is
// rounded to f16 before the dot products.
void RunTile(const AttnArgs& a, const AttnSeq& s, int32_t g, int32_t r0, int32_t r1,
             float* scratch) {
  const KvCacheLayer& c = *a.cache;
  const int32_t hd = c.head_dim;
  const int32_t group = a.num_heads / c.num_kv_heads;
  const int32_t num_vec = (r1 - r0) * group;
  const bool f16 = c.dtype == KvDtype::kF16;
  const internal::IsaKernels& kern = internal::Kernels(ActiveIsa());
  const internal::DequantFn f16_to_f32 = internal::DequantFor(ActiveIsa(), GgmlType::kF16);
  float* tile = scratch;                   // [kKeyTile, hd] keys, then values
  float* kt = tile + kKeyTile * hd;        // [hd, kKeyTile] the keys transposed
  float* lanes = kt + kKeyTile * hd;       // [num_vec, kLanes, hd] per-lane output sums
  float* qs = lanes + static_cast<int64_t>(num_vec) * kLanes * hd;  // [num_vec, hd]
  float* probs = qs + static_cast<int64_t>(num_vec) * hd;  // [num_vec, row_len]
  for (int32_t r = r0; r < r1; ++r) {
    const int64_t row = s.q_row_offset + r;
    for (int32_t h = 0; h < group; ++h) {
      const int64_t off = (row * a.num_heads + g * group + h) * hd;
      float* dst = qs + static_cast<int64_t>((r - r0) * group + h) * hd;
      for (int32_t i = 0; i < hd; ++i) dst[i] = f16 ? RoundToF16(a.q[off + i]) : a.q[off + i];
    }
  }
  const int64_t last_pos = s.start_pos + r1 - 1;
  // Pass 1: scores.
  for (int64_t t0 = 0; t0 <= last_pos; t0 += kKeyTile) {
    const int32_t tile_n = static_cast<int32_t>(std::min<int64_t>(kKeyTile, last_pos + 1 - t0));
    LoadTile(c, s, c.k, g, t0, tile_n, f16_to_f32, tile);
    for (int32_t i = 0; i < hd; ++i) {
      for (int32_t j = 0; j < kKeyTile; ++j) {
        kt[i * kKeyTile + j] = j < tile_n ? tile[static_cast<int64_t>(j) * hd + i] : 0.0f;
      }
    }
    for (int32_t r = r0; r < r1; ++r) {
      const int64_t pos = s.start_pos + r;
      if (t0 > pos) continue;
      const int32_t n = static_cast<int32_t>(std::min<int64_t>(tile_n, pos + 1 - t0));
      for (int32_t h = 0; h < group; ++h) {
        const int32_t v = (r - r0) * group + h;
        const float* qv = qs + static_cast<int64_t>(v) * hd;
        float scores[kKeyTile];
        kern.scores_t(qv, kt, hd, scores);
        std::memcpy(probs + v * a.row_len + t0, scores, n * sizeof(float));
      }
    }
  }
  // Pass 2: softmax.
  for (int32_t r = r0; r < r1; ++r) {
    for (int32_t h = 0; h < group; ++h) {
      const int32_t v = (r - r0) * group + h;
      Softmax(kern, probs + v * a.row_len, s.start_pos + r + 1, a.scale, f16);
    }
  }
  // Pass 3: probabilities times values, key j into lane j % 16 in key order.
  std::fill(lanes, lanes + static_cast<int64_t>(num_vec) * kLanes * hd, 0.0f);
  for (int64_t t0 = 0; t0 <= last_pos; t0 += kKeyTile) {
    const int32_t tile_n = static_cast<int32_t>(std::min<int64_t>(kKeyTile, last_pos + 1 - t0));
    LoadTile(c, s, c.v, g, t0, tile_n, f16_to_f32, tile);
    for (int32_t r = r0; r < r1; ++r) {
      const int64_t pos = s.start_pos + r;
      if (t0 > pos) continue;
      const int32_t n = static_cast<int32_t>(std::min<int64_t>(tile_n, pos + 1 - t0));
      for (int32_t h = 0; h < group; ++h) {
        const int32_t v = (r - r0) * group + h;
        // t0 is a multiple of kKeyTile, so key t0 + j goes to lane j % 16.
        kern.axpy_lanes16(probs + v * a.row_len + t0, tile, n, hd, lanes + static_cast<int64_t>(v) * kLanes * hd);
      }
    }
  }
  for (int32_t r = r0; r < r1; ++r) {
    const int64_t row = s.q_row_offset + r;
    for (int32_t h = 0; h < group; ++h) {
      float* lv = lanes + static_cast<int64_t>((r - r0) * group + h) * kLanes * hd;
      for (int32_t half = kLanes / 2; half >= 1; half /= 2) {
        for (int32_t l = 0; l < half; ++l) {
          float* dst = lv + l * hd;
          const float* src = lv + (l + half) * hd;
          for (int32_t i = 0; i < hd; ++i) dst[i] += src[i];
        }
      }
      std::memcpy(a.out + (row * a.num_heads + g * group + h) * hd, lv, hd * sizeof(float));
    }
  }
}

}  // namespace

size_t KvPoolBytes(const KvCacheLayer& c) {
  return static_cast<size_t>(c.num_blocks) * c.block_size * c.num_kv_heads * c.head_dim *
         ElemBytes(c.dtype);
}

Status WriteKv(const KvCacheLayer& cache, const AttnSeq* seqs, int32_t num_seqs, const float* k,
               const float* v) {
  HEARTH_RETURN_IF_ERROR(ValidateCache(cache));
  const int64_t row_elems = static_cast<int64_t>(cache.num_kv_heads) * cache.head_dim;
  for (int32_t i = 0; i < num_seqs; ++i) {
    const AttnSeq& s = seqs[i];
    HEARTH_RETURN_IF_ERROR(ValidateSeq(cache, s));
    for (int32_t t = 0; t < s.num_q; ++t) {
      const int64_t row = s.q_row_offset + t;
      // All kv heads of one position are contiguous in the cache.
      const int64_t off = SlotOffset(cache, s, s.start_pos + t, 0);
      StoreRow(cache.dtype, k + row * row_elems, cache.k, off, static_cast<int32_t>(row_elems));
      StoreRow(cache.dtype, v + row * row_elems, cache.v, off, static_cast<int32_t>(row_elems));
    }
  }
  return Status::Ok();
}

Status Attention(const KvCacheLayer& cache, const AttnSeq* seqs, int32_t num_seqs, const float* q,
                 int32_t num_heads, float* out, ThreadPool& pool) {
  HEARTH_RETURN_IF_ERROR(ValidateCache(cache));
  if (num_heads <= 0 || num_heads % cache.num_kv_heads != 0 || num_heads / cache.num_kv_heads > 64) {
    return Status::InvalidArgument("num_heads " + std::to_string(num_heads) +
                                   " is not a multiple (<= 64x) of num_kv_heads " +
                                   std::to_string(cache.num_kv_heads));
  }
  // Task t of sequence i is t - first[i] in (kv head, query tile) order.
  auto* first = reinterpret_cast<int64_t*>(pool.SharedScratch(sizeof(int64_t) * (num_seqs + 1)));
  first[0] = 0;
  for (int32_t i = 0; i < num_seqs; ++i) {
    HEARTH_RETURN_IF_ERROR(ValidateSeq(cache, seqs[i]));
    const int64_t tiles = (seqs[i].num_q + kQueryTile - 1) / kQueryTile;
    first[i + 1] = first[i] + tiles * cache.num_kv_heads;
  }
  int64_t max_len = 0;
  for (int32_t i = 0; i < num_seqs; ++i) max_len = std::max(max_len, seqs[i].start_pos + seqs[i].num_q);
  const int64_t row_len = (max_len + kKeyTile - 1) / kKeyTile * kKeyTile;
  const AttnArgs args{&cache, seqs, q, out, num_heads,
                      1.0f / std::sqrt(static_cast<float>(cache.head_dim)), row_len};
  const int32_t group = num_heads / cache.num_kv_heads;
  const size_t scratch_floats =
      static_cast<size_t>(2 * kKeyTile + kQueryTile * group * (kLanes + 1)) * cache.head_dim +
      static_cast<size_t>(kQueryTile * group) * row_len;
  pool.Run(first[num_seqs], [&](int64_t t, int thread) {
    const int32_t i = static_cast<int32_t>(std::upper_bound(first, first + num_seqs + 1, t) - first - 1);
    const AttnSeq& s = seqs[i];
    const int64_t local = t - first[i];
    const int32_t g = static_cast<int32_t>(local % cache.num_kv_heads);
    const int32_t r0 = static_cast<int32_t>(local / cache.num_kv_heads) * kQueryTile;
    const int32_t r1 = std::min(s.num_q, r0 + kQueryTile);
    auto* scratch = reinterpret_cast<float*>(pool.ThreadScratch(thread, scratch_floats * sizeof(float)));
    RunTile(args, s, g, r0, r1, scratch);
  });
  return Status::Ok();
}

}  // namespace hearth::kernels
