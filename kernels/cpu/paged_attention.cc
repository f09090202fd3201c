// Paged attention: fixed-order online softmax per (query row, head).
#include "kernels/cpu/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "kernels/cpu/fp16.h"
#include "kernels/cpu/isa_kernels.h"

namespace hearth::kernels {
namespace {

constexpr int32_t kKeyTile = internal::kKeyTileT;  // positions per softmax step; fixed for invariance
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

// Running online-softmax state of one (query row, head).
struct SoftmaxState {
  float max;
  float sum;
  float* acc;  // [head_dim]
};

// Transposes a [n, hd] key tile into [hd, kKeyTile], zero-padding keys >= n.
void Transpose(const float* k_tile, int32_t n, int32_t hd, float* kt) {
  for (int32_t i = 0; i < hd; ++i) {
    float* row = kt + static_cast<int64_t>(i) * kKeyTile;
    for (int32_t j = 0; j < n; ++j) row[j] = k_tile[static_cast<int64_t>(j) * hd + i];
    for (int32_t j = n; j < kKeyTile; ++j) row[j] = 0.0f;
  }
}

// Folds keys [0, n) of the current tile (transposed keys kt) into `st`.
void FoldTile(const internal::IsaKernels& kern, const float* q, const float* kt,
              const float* v_tile, int32_t n, int32_t hd, float scale, float* scores,
              SoftmaxState& st) {
  kern.scores_t(q, kt, hd, scores);
  float tile_max = -INFINITY;
  for (int32_t j = 0; j < n; ++j) {
    scores[j] *= scale;
    tile_max = std::max(tile_max, scores[j]);
  }
  const float new_max = std::max(st.max, tile_max);
  if (new_max != st.max) {
    const float alpha = std::exp(st.max - new_max);  // 0 on the first tile
    st.sum *= alpha;
    for (int32_t i = 0; i < hd; ++i) st.acc[i] *= alpha;
    st.max = new_max;
  }
  st.sum += kern.exp_sum(scores, n, new_max);
  kern.axpy_rows_f32(scores, v_tile, n, hd, st.acc);
}

struct AttnArgs {
  const KvCacheLayer* cache;
  const AttnSeq* seqs;
  const float* q;
  float* out;
  int32_t num_heads;
  float scale;
};

// One task: rows [r0, r1) of a sequence, all query heads of kv head g.
void RunTile(const AttnArgs& a, const AttnSeq& s, int32_t g, int32_t r0, int32_t r1,
             float* scratch) {
  const KvCacheLayer& c = *a.cache;
  const int32_t hd = c.head_dim;
  const int32_t group = a.num_heads / c.num_kv_heads;
  const int32_t num_vec = (r1 - r0) * group;
  const internal::IsaKernels& kern = internal::Kernels(ActiveIsa());
  const internal::DequantFn f16_to_f32 = internal::DequantFor(ActiveIsa(), WeightType::kF16);
  float* k_tile = scratch;               // [kKeyTile, hd]
  float* v_tile = k_tile + kKeyTile * hd;  // [kKeyTile, hd]
  float* kt = v_tile + kKeyTile * hd;      // [hd, kKeyTile]
  float* scores = kt + kKeyTile * hd;      // [kKeyTile]
  float* accs = scores + kKeyTile;         // [num_vec, hd]
  SoftmaxState states[kQueryTile * 64];
  for (int32_t v = 0; v < num_vec; ++v) {
    states[v] = {-INFINITY, 0.0f, accs + static_cast<int64_t>(v) * hd};
    std::fill(states[v].acc, states[v].acc + hd, 0.0f);
  }
  const int64_t last_pos = s.start_pos + r1 - 1;
  for (int64_t t0 = 0; t0 <= last_pos; t0 += kKeyTile) {
    const int32_t tile_n = static_cast<int32_t>(std::min<int64_t>(kKeyTile, last_pos + 1 - t0));
    LoadTile(c, s, c.k, g, t0, tile_n, f16_to_f32, k_tile);
    LoadTile(c, s, c.v, g, t0, tile_n, f16_to_f32, v_tile);
    Transpose(k_tile, tile_n, hd, kt);
    for (int32_t r = r0; r < r1; ++r) {
      const int64_t pos = s.start_pos + r;
      if (t0 > pos) continue;
      const int32_t n = static_cast<int32_t>(std::min<int64_t>(tile_n, pos + 1 - t0));
      const int64_t row = s.q_row_offset + r;
      for (int32_t h = 0; h < group; ++h) {
        const int32_t head = g * group + h;
        const float* qv = a.q + (row * a.num_heads + head) * hd;
        FoldTile(kern, qv, kt, v_tile, n, hd, a.scale, scores, states[(r - r0) * group + h]);
      }
    }
  }
  for (int32_t r = r0; r < r1; ++r) {
    const int64_t row = s.q_row_offset + r;
    for (int32_t h = 0; h < group; ++h) {
      const SoftmaxState& st = states[(r - r0) * group + h];
      float* o = a.out + (row * a.num_heads + g * group + h) * hd;
      const float inv = 1.0f / st.sum;
      for (int32_t i = 0; i < hd; ++i) o[i] = st.acc[i] * inv;
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
  const AttnArgs args{&cache, seqs, q, out, num_heads,
                      1.0f / std::sqrt(static_cast<float>(cache.head_dim))};
  const int32_t group = num_heads / cache.num_kv_heads;
  const size_t scratch_floats =
      static_cast<size_t>(3 * kKeyTile + kQueryTile * group) * cache.head_dim + kKeyTile;
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
