#include "kernels/cpu/paged_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "gtest/gtest.h"
#include "kernels/cpu/test_util.h"

namespace hearth::kernels {
namespace {

using testing::AvailableIsas;
using testing::Near;
using testing::RandomFloats;
using testing::ScopedIsa;

struct Shape {
  int32_t heads, kv_heads, head_dim, block_size;
  KvDtype dtype;
};

// A cache with its pools and a shuffled block table per sequence, so logical
// order never matches physical order.
struct Cache {
  KvCacheLayer layer;
  std::vector<uint8_t> k, v;
  Cache(const Shape& s, int32_t num_blocks) {
    layer = {s.dtype, s.block_size, s.kv_heads, s.head_dim, num_blocks, nullptr, nullptr};
    k.assign(KvPoolBytes(layer), 0xff);  // NaN-ish garbage where nothing was written
    v.assign(KvPoolBytes(layer), 0xff);
    layer.k = k.data();
    layer.v = v.data();
  }
};

std::vector<int32_t> ShuffledBlocks(int32_t num_blocks, uint32_t seed) {
  std::vector<int32_t> ids(num_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(seed));
  return ids;
}

// Runs a prompt of q/k/v [len, ...] through the cache in chunks of `chunk`.
std::vector<float> RunChunked(const Shape& s, const std::vector<float>& q, const std::vector<float>& k,
                              const std::vector<float>& v, int32_t len, int32_t chunk, uint32_t seed,
                              int threads) {
  const int32_t blocks = (len + s.block_size - 1) / s.block_size;
  Cache cache(s, blocks + 3);
  std::vector<int32_t> table = ShuffledBlocks(blocks + 3, seed);
  ThreadPool pool(threads);
  const int64_t qw = static_cast<int64_t>(s.heads) * s.head_dim, kw = static_cast<int64_t>(s.kv_heads) * s.head_dim;
  std::vector<float> out(len * qw, NAN);
  for (int32_t p0 = 0; p0 < len; p0 += chunk) {
    AttnSeq seq{p0, std::min(chunk, len - p0), 0, table.data(), blocks};
    const int32_t n = seq.num_q;
    std::vector<float> out_chunk(n * qw);
    CHECK(WriteKv(cache.layer, &seq, 1, k.data() + p0 * kw, v.data() + p0 * kw).ok());
    CHECK(Attention(cache.layer, &seq, 1, q.data() + p0 * qw, s.heads, out_chunk.data(), pool).ok());
    std::copy(out_chunk.begin(), out_chunk.end(), out.begin() + p0 * qw);
  }
  return out;
}

float RoundTrip(KvDtype dtype, float x) { return dtype == KvDtype::kF16 ? F16ToF32(F32ToF16(x)) : x; }

// Naive causal GQA attention in double, over K/V rounded as the cache stores them
// (and, with an f16 cache, q and the normalized probabilities rounded to f16).
std::vector<float> Reference(const Shape& s, const std::vector<float>& q, const std::vector<float>& k,
                             const std::vector<float>& v, int32_t len) {
  const int32_t hd = s.head_dim, group = s.heads / s.kv_heads;
  std::vector<float> out(static_cast<size_t>(len) * s.heads * hd);
  for (int32_t t = 0; t < len; ++t) {
    for (int32_t h = 0; h < s.heads; ++h) {
      const int32_t g = h / group;
      const float* qv = q.data() + (t * s.heads + h) * hd;
      std::vector<double> sc(t + 1);
      double max = -1e300;
      for (int32_t j = 0; j <= t; ++j) {
        double dot = 0;
        for (int32_t i = 0; i < hd; ++i) {
          dot += RoundTrip(s.dtype, qv[i]) * RoundTrip(s.dtype, k[(j * s.kv_heads + g) * hd + i]);
        }
        sc[j] = dot / std::sqrt(static_cast<double>(hd));
        max = std::max(max, sc[j]);
      }
      double sum = 0;
      for (double& x : sc) sum += (x = std::exp(x - max));
      // With an f16 cache the normalized probabilities are rounded to f16.
      for (double& x : sc) x = RoundTrip(s.dtype, static_cast<float>(x / sum));
      for (int32_t i = 0; i < hd; ++i) {
        double acc = 0;
        for (int32_t j = 0; j <= t; ++j) acc += sc[j] * RoundTrip(s.dtype, v[(j * s.kv_heads + g) * hd + i]);
        out[(t * s.heads + h) * hd + i] = static_cast<float>(acc);
      }
    }
  }
  return out;
}

const Shape kShapes[] = {
    {6, 2, 64, 16, KvDtype::kF16},
    {9, 3, 19, 5, KvDtype::kF32},
    {4, 4, 40, 16, KvDtype::kF32},
};

TEST(PagedAttention, MatchesReference) {
  const int32_t len = 70;
  for (const Shape& s : kShapes) {
    std::vector<float> q = RandomFloats(len * s.heads * s.head_dim, 1);
    std::vector<float> k = RandomFloats(len * s.kv_heads * s.head_dim, 2);
    std::vector<float> v = RandomFloats(len * s.kv_heads * s.head_dim, 3);
    const std::vector<float> want = Reference(s, q, k, v, len);
    for (Isa isa : AvailableIsas()) {
      ScopedIsa scoped(isa);
      std::vector<float> got = RunChunked(s, q, k, v, len, len, 1, 2);
      for (size_t i = 0; i < got.size(); ++i) {
        // f16 probabilities: a last-bit difference in a score or exp can move
        // a probability by one f16 ulp (2^-11 relative).
        const bool f16 = s.dtype == KvDtype::kF16;
        ASSERT_TRUE(Near(got[i], want[i], f16 ? 5e-4 : 2e-5, f16 ? 1e-3 : 1e-4))
            << i << " head_dim " << s.head_dim << " " << IsaName(isa);
      }
    }
  }
}

// Every SIMD level computes the same bits as the portable code: scores,
// softmax and value sums all follow one fixed order (isa_kernels.h).
TEST(PagedAttention, SameBitsAtEveryIsa) {
  const int32_t len = 70;
  for (const Shape& s : kShapes) {
    std::vector<float> q = RandomFloats(len * s.heads * s.head_dim, 7);
    std::vector<float> k = RandomFloats(len * s.kv_heads * s.head_dim, 8);
    std::vector<float> v = RandomFloats(len * s.kv_heads * s.head_dim, 9);
    std::vector<float> scalar;
    {
      ScopedIsa scoped(Isa::kScalar);
      scalar = RunChunked(s, q, k, v, len, 33, 1, 2);
    }
    for (Isa isa : AvailableIsas()) {
      ScopedIsa scoped(isa);
      std::vector<float> got = RunChunked(s, q, k, v, len, 33, 1, 2);
      if (s.dtype == KvDtype::kF32 && isa != Isa::kScalar) {
        // An f32 cache's value sums use fused multiply-adds in SIMD; only the
        // f16 cache (products exact in f32) is bit-exact across levels.
        continue;
      }
      ASSERT_EQ(0, std::memcmp(got.data(), scalar.data(), got.size() * sizeof(float)))
          << "head_dim " << s.head_dim << " " << IsaName(isa);
    }
  }
}

// Whole prompt vs chunks of 1, 7, 33, with other block layouts and thread counts.
TEST(PagedAttention, ChunkInvariantBitExact) {
  const int32_t len = 70;
  for (const Shape& s : kShapes) {
    std::vector<float> q = RandomFloats(len * s.heads * s.head_dim, 4);
    std::vector<float> k = RandomFloats(len * s.kv_heads * s.head_dim, 5);
    std::vector<float> v = RandomFloats(len * s.kv_heads * s.head_dim, 6);
    for (Isa isa : AvailableIsas()) {
      ScopedIsa scoped(isa);
      const std::vector<float> whole = RunChunked(s, q, k, v, len, len, 1, 2);
      for (int32_t chunk : {1, 7, 33}) {
        const std::vector<float> parts = RunChunked(s, q, k, v, len, chunk, 100 + chunk, chunk % 2 + 1);
        ASSERT_EQ(std::memcmp(whole.data(), parts.data(), whole.size() * 4), 0)
            << "chunk " << chunk << " head_dim " << s.head_dim << " " << IsaName(isa);
      }
    }
  }
}

// A decode and a prefill chunk batched together equal each run alone.
TEST(PagedAttention, BatchIndependentBitExact) {
  const Shape s = kShapes[0];
  const int64_t qw = s.heads * s.head_dim, kw = s.kv_heads * s.head_dim;
  const int32_t len_a = 40, len_b = 23;  // A: 39 cached + 1 decode; B: 10 cached + 13 new
  std::vector<float> qa = RandomFloats(len_a * qw, 7), ka = RandomFloats(len_a * kw, 8), va = RandomFloats(len_a * kw, 9);
  std::vector<float> qb = RandomFloats(len_b * qw, 10), kb = RandomFloats(len_b * kw, 11), vb = RandomFloats(len_b * kw, 12);
  for (Isa isa : AvailableIsas()) {
    ScopedIsa scoped(isa);
    const std::vector<float> alone_a = RunChunked(s, qa, ka, va, len_a, len_a, 1, 1);
    const std::vector<float> alone_b = RunChunked(s, qb, kb, vb, len_b, len_b, 2, 1);
    // One cache shared by both sequences, disjoint blocks.
    Cache cache(s, 8);
    const std::vector<int32_t> ids = ShuffledBlocks(8, 3);
    const int32_t* table_a = ids.data();      // 3 blocks
    const int32_t* table_b = ids.data() + 3;  // 2 blocks
    AttnSeq pre[2] = {{0, 39, 0, table_a, 3}, {0, 10, 39, table_b, 2}};
    std::vector<float> k0(49 * kw), v0(49 * kw), q0(49 * qw), o0(49 * qw);
    std::copy(ka.begin(), ka.begin() + 39 * kw, k0.begin());
    std::copy(kb.begin(), kb.begin() + 10 * kw, k0.begin() + 39 * kw);
    std::copy(va.begin(), va.begin() + 39 * kw, v0.begin());
    std::copy(vb.begin(), vb.begin() + 10 * kw, v0.begin() + 39 * kw);
    ThreadPool pool(2);
    ASSERT_TRUE(WriteKv(cache.layer, pre, 2, k0.data(), v0.data()).ok());
    // Step 2: B's 13-token chunk first in the batch, then A's decode.
    AttnSeq step[2] = {{10, 13, 0, table_b, 2}, {39, 1, 13, table_a, 3}};
    std::vector<float> k1(14 * kw), v1(14 * kw), q1(14 * qw), o1(14 * qw);
    std::copy(kb.begin() + 10 * kw, kb.end(), k1.begin());
    std::copy(ka.begin() + 39 * kw, ka.end(), k1.begin() + 13 * kw);
    std::copy(vb.begin() + 10 * kw, vb.end(), v1.begin());
    std::copy(va.begin() + 39 * kw, va.end(), v1.begin() + 13 * kw);
    std::copy(qb.begin() + 10 * qw, qb.end(), q1.begin());
    std::copy(qa.begin() + 39 * qw, qa.end(), q1.begin() + 13 * qw);
    ASSERT_TRUE(WriteKv(cache.layer, step, 2, k1.data(), v1.data()).ok());
    ASSERT_TRUE(Attention(cache.layer, step, 2, q1.data(), s.heads, o1.data(), pool).ok());
    EXPECT_EQ(std::memcmp(o1.data(), alone_b.data() + 10 * qw, 13 * qw * 4), 0) << IsaName(isa);
    EXPECT_EQ(std::memcmp(o1.data() + 13 * qw, alone_a.data() + 39 * qw, qw * 4), 0) << IsaName(isa);
  }
}

TEST(PagedAttention, RejectsBadInput) {
  Cache cache(kShapes[0], 2);
  ThreadPool pool(1);
  std::vector<float> q(6 * 64), out(6 * 64), kv(2 * 64);
  int32_t table[2] = {0, 5};
  AttnSeq past_table{16, 1, 0, table, 2};  // position 16 is in block id 5: out of range
  EXPECT_TRUE(WriteKv(cache.layer, &past_table, 1, kv.data(), kv.data()).IsInvalidArgument());
  AttnSeq uncovered{32, 1, 0, table, 2};
  EXPECT_TRUE(Attention(cache.layer, &uncovered, 1, q.data(), 6, out.data(), pool).IsInvalidArgument());
  AttnSeq ok{0, 1, 0, table, 1};
  EXPECT_TRUE(Attention(cache.layer, &ok, 1, q.data(), 5, out.data(), pool).IsInvalidArgument());
}

}  // namespace
}  // namespace hearth::kernels
