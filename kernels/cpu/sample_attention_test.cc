#include "kernels/cpu/sample_attention.h"

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
  int32_t heads, kv_heads, head_dim, block_size, segment;
  KvDtype dtype;
  float alpha;
};

const Shape kShapes[] = {
    {9, 3, 64, 16, 32, KvDtype::kF16, 0.9f},
    {6, 2, 40, 8, 24, KvDtype::kF32, 0.8f},
    {4, 4, 19, 5, 15, KvDtype::kF16, 0.97f},
};

struct Data {
  std::vector<float> q, k, v;  // [len, heads * hd], [len, kv_heads * hd] x2
};

Data MakeData(const Shape& s, int32_t len, uint32_t seed) {
  // Larger queries than keys, so attention is peaked and the selection drops columns.
  return {RandomFloats(static_cast<size_t>(len) * s.heads * s.head_dim, seed, 2.0f),
          RandomFloats(static_cast<size_t>(len) * s.kv_heads * s.head_dim, seed + 1),
          RandomFloats(static_cast<size_t>(len) * s.kv_heads * s.head_dim, seed + 2)};
}

// A cache and a sample pool over a shuffled block table.
struct Cache {
  KvCacheLayer layer;
  QuerySamplePool samples;
  std::vector<uint8_t> k, v;
  std::vector<uint16_t> q;
  std::vector<int32_t> table;
  Cache(const Shape& s, int32_t num_blocks, uint32_t seed) {
    layer = {s.dtype, s.block_size, s.kv_heads, s.head_dim, num_blocks, nullptr, nullptr};
    k.assign(KvPoolBytes(layer), 0xff);
    v.assign(KvPoolBytes(layer), 0xff);
    layer.k = k.data();
    layer.v = v.data();
    samples = {s.block_size, num_blocks, s.heads, s.head_dim, nullptr};
    q.assign(QuerySamplePoolBytes(samples) / 2, 0xffff);
    samples.q = q.data();
    table.resize(num_blocks);
    std::iota(table.begin(), table.end(), 0);
    std::shuffle(table.begin(), table.end(), std::mt19937(seed));
  }
};

// Runs a prompt through the cache in chunks of `chunk`.
std::vector<float> RunChunked(const Shape& s, const Data& d, int32_t len, int32_t chunk, uint32_t seed,
                              int threads, float alpha) {
  const int32_t blocks = (len + s.block_size - 1) / s.block_size;
  Cache cache(s, blocks + 2, seed);
  ThreadPool pool(threads);
  const int64_t qw = s.heads * s.head_dim, kw = s.kv_heads * s.head_dim;
  std::vector<float> out(len * qw, NAN);
  for (int32_t p0 = 0; p0 < len; p0 += chunk) {
    AttnSeq seq{p0, std::min(chunk, len - p0), 0, cache.table.data(), blocks};
    CHECK(WriteKv(cache.layer, &seq, 1, d.k.data() + p0 * kw, d.v.data() + p0 * kw).ok());
    CHECK(WriteQuerySamples(cache.samples, &seq, 1, d.q.data() + p0 * qw).ok());
    CHECK(SampleAttention(cache.layer, cache.samples, &seq, 1, d.q.data() + p0 * qw, s.heads,
                          {s.segment, alpha}, out.data() + p0 * qw, pool)
              .ok());
  }
  return out;
}

float RoundTrip(KvDtype dtype, float x) { return dtype == KvDtype::kF16 ? F16ToF32(F32ToF16(x)) : x; }

// Softmax in double of q (as given) against keys `keys` of kv head g.
std::vector<double> RefProbs(const Shape& s, const Data& d, const float* qv, int32_t g, const std::vector<int32_t>& keys) {
  const int32_t hd = s.head_dim;
  std::vector<double> sc(keys.size());
  double max = -1e300;
  for (size_t j = 0; j < keys.size(); ++j) {
    double dot = 0;
    for (int32_t i = 0; i < hd; ++i) dot += qv[i] * RoundTrip(s.dtype, d.k[(keys[j] * s.kv_heads + g) * hd + i]);
    sc[j] = dot / std::sqrt(static_cast<double>(hd));
    max = std::max(max, sc[j]);
  }
  double sum = 0;
  for (double& x : sc) sum += (x = std::exp(x - max));
  for (double& x : sc) x /= sum;
  return sc;
}

// The mechanism written plainly, in double: for row t of segment [b, b + seg),
// the samples (queries of positions w0, w0 + block_size, ... < b, stored in f16)
// sum their probabilities per column; columns before w0 are kept by descending
// sum until alpha of the total is reached; then attention over kept + [w0, t].
std::vector<float> Reference(const Shape& s, const Data& d, int32_t len, float alpha) {
  const int32_t hd = s.head_dim, group = s.heads / s.kv_heads;
  std::vector<float> out(static_cast<size_t>(len) * s.heads * hd);
  for (int32_t t = 0; t < len; ++t) {
    const int32_t b = t / s.segment * s.segment, w0 = std::max(0, b - s.segment);
    for (int32_t h = 0; h < s.heads; ++h) {
      const int32_t g = h / group;
      std::vector<double> mass(w0, 0.0);
      double total = 0;
      for (int32_t p = w0; p < b; p += s.block_size) {
        std::vector<float> qs(hd);
        for (int32_t i = 0; i < hd; ++i) qs[i] = RoundTrip(KvDtype::kF16, d.q[(p * s.heads + h) * hd + i]);
        std::vector<int32_t> keys(p + 1);
        std::iota(keys.begin(), keys.end(), 0);
        const std::vector<double> pr = RefProbs(s, d, qs.data(), g, keys);
        for (int32_t j = 0; j <= p; ++j) {
          if (j < w0) mass[j] += pr[j];
          total += pr[j];
        }
      }
      double kept = total;
      for (double m : mass) kept -= m;  // the window's share
      std::vector<int32_t> order(w0);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int32_t x, int32_t y) { return mass[x] > mass[y]; });
      std::vector<int32_t> keys;
      for (int32_t j : order) {
        if (kept >= alpha * total) break;
        kept += mass[j];
        keys.push_back(j);
      }
      std::sort(keys.begin(), keys.end());
      for (int32_t j = w0; j <= t; ++j) keys.push_back(j);
      std::vector<float> qv(hd);
      for (int32_t i = 0; i < hd; ++i) qv[i] = RoundTrip(s.dtype, d.q[(t * s.heads + h) * hd + i]);
      std::vector<double> pr = RefProbs(s, d, qv.data(), g, keys);
      for (double& x : pr) x = RoundTrip(s.dtype, static_cast<float>(x));
      for (int32_t i = 0; i < hd; ++i) {
        double acc = 0;
        for (size_t j = 0; j < keys.size(); ++j) acc += pr[j] * RoundTrip(s.dtype, d.v[(keys[j] * s.kv_heads + g) * hd + i]);
        out[(t * s.heads + h) * hd + i] = static_cast<float>(acc);
      }
    }
  }
  return out;
}

// Dense causal attention (paged_attention.h) over the same data, whole.
std::vector<float> Dense(const Shape& s, const Data& d, int32_t len) {
  const int32_t blocks = (len + s.block_size - 1) / s.block_size;
  Cache cache(s, blocks, 1);
  ThreadPool pool(1);
  std::vector<float> out(static_cast<size_t>(len) * s.heads * s.head_dim);
  AttnSeq seq{0, len, 0, cache.table.data(), blocks};
  CHECK(WriteKv(cache.layer, &seq, 1, d.k.data(), d.v.data()).ok());
  CHECK(Attention(cache.layer, &seq, 1, d.q.data(), s.heads, out.data(), pool).ok());
  return out;
}

TEST(SampleAttention, MatchesReference) {
  std::mt19937 rng(42);
  for (const Shape& s : kShapes) {
    const int32_t len = std::uniform_int_distribution<int32_t>(5 * s.segment, 9 * s.segment)(rng);
    const Data d = MakeData(s, len, 10 + s.head_dim);
    const std::vector<float> want = Reference(s, d, len, s.alpha);
    for (Isa isa : AvailableIsas()) {
      ScopedIsa scoped(isa);
      const std::vector<float> got = RunChunked(s, d, len, len, 1, 2, s.alpha);
      const bool f16 = s.dtype == KvDtype::kF16;
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_TRUE(Near(got[i], want[i], f16 ? 5e-4 : 2e-5, f16 ? 1e-3 : 1e-4))
            << "row " << i / (s.heads * s.head_dim) << " head_dim " << s.head_dim << " " << IsaName(isa);
      }
    }
  }
}

// The selection drops columns (the result is not dense attention), except in
// the first two segments, which have none to drop and match dense bit for bit.
TEST(SampleAttention, SparseAfterTwoSegmentsDenseBefore) {
  for (const Shape& s : kShapes) {
    const int32_t len = 8 * s.segment;
    const Data d = MakeData(s, len, 3);
    const std::vector<float> dense = Dense(s, d, len);
    const std::vector<float> sparse = RunChunked(s, d, len, len, 2, 2, 0.5f);
    const size_t row = static_cast<size_t>(s.heads) * s.head_dim;
    EXPECT_EQ(std::memcmp(dense.data(), sparse.data(), 2 * s.segment * row * sizeof(float)), 0) << s.head_dim;
    size_t differ = 0;
    for (size_t i = 2 * s.segment * row; i < dense.size(); ++i) differ += dense[i] != sparse[i];
    EXPECT_GT(differ, (dense.size() - 2 * s.segment * row) / 2) << s.head_dim;
  }
}

// Whole prompt vs chunks of 1, 7, 50, with other block layouts and thread counts.
TEST(SampleAttention, ChunkInvariantBitExact) {
  for (const Shape& s : kShapes) {
    const int32_t len = 6 * s.segment + 3;
    const Data d = MakeData(s, len, 20);
    for (Isa isa : AvailableIsas()) {
      ScopedIsa scoped(isa);
      const std::vector<float> whole = RunChunked(s, d, len, len, 1, 2, s.alpha);
      for (int32_t chunk : {1, 7, 50}) {
        const std::vector<float> parts = RunChunked(s, d, len, chunk, 100 + chunk, chunk % 2 + 1, s.alpha);
        ASSERT_EQ(std::memcmp(whole.data(), parts.data(), whole.size() * 4), 0)
            << "chunk " << chunk << " head_dim " << s.head_dim << " " << IsaName(isa);
      }
    }
  }
}

// Two sequences in one batch equal each run alone.
TEST(SampleAttention, BatchIndependentBitExact) {
  const Shape s = kShapes[0];
  const int64_t qw = s.heads * s.head_dim, kw = s.kv_heads * s.head_dim;
  const int32_t len_a = 5 * s.segment + 1, len_b = 4 * s.segment + 9;
  const Data da = MakeData(s, len_a, 30), db = MakeData(s, len_b, 40);
  const std::vector<float> alone_a = RunChunked(s, da, len_a, len_a, 1, 1, s.alpha);
  const std::vector<float> alone_b = RunChunked(s, db, len_b, len_b, 2, 1, s.alpha);
  const int32_t blocks_a = (len_a + s.block_size - 1) / s.block_size;
  const int32_t blocks_b = (len_b + s.block_size - 1) / s.block_size;
  Cache cache(s, blocks_a + blocks_b, 5);
  const int32_t* table_a = cache.table.data();
  const int32_t* table_b = table_a + blocks_a;
  ThreadPool pool(2);
  // A's prompt but its last token, and B's first 30 tokens, then A's decode and B's rest together.
  const int32_t pre_a = len_a - 1, pre_b = 30;
  auto concat = [](const std::vector<float>& x, size_t x0, size_t x1, const std::vector<float>& y, size_t y0, size_t y1) {
    std::vector<float> r(x.begin() + x0, x.begin() + x1);
    r.insert(r.end(), y.begin() + y0, y.begin() + y1);
    return r;
  };
  for (int step = 0; step < 2; ++step) {
    AttnSeq seqs[2] = {{0, pre_a, 0, table_a, blocks_a}, {0, pre_b, pre_a, table_b, blocks_b}};
    if (step == 1) {
      seqs[0] = {pre_a, 1, 0, table_a, blocks_a};
      seqs[1] = {pre_b, len_b - pre_b, 1, table_b, blocks_b};
    }
    const size_t a0 = step ? pre_a : 0, a1 = step ? len_a : pre_a, b0 = step ? pre_b : 0, b1 = step ? len_b : pre_b;
    const std::vector<float> q = concat(da.q, a0 * qw, a1 * qw, db.q, b0 * qw, b1 * qw);
    const std::vector<float> k = concat(da.k, a0 * kw, a1 * kw, db.k, b0 * kw, b1 * kw);
    const std::vector<float> v = concat(da.v, a0 * kw, a1 * kw, db.v, b0 * kw, b1 * kw);
    std::vector<float> out(q.size());
    ASSERT_TRUE(WriteKv(cache.layer, seqs, 2, k.data(), v.data()).ok());
    ASSERT_TRUE(WriteQuerySamples(cache.samples, seqs, 2, q.data()).ok());
    ASSERT_TRUE(SampleAttention(cache.layer, cache.samples, seqs, 2, q.data(), s.heads, {s.segment, s.alpha},
                                out.data(), pool)
                    .ok());
    EXPECT_EQ(std::memcmp(out.data(), alone_a.data() + a0 * qw, (a1 - a0) * qw * 4), 0) << step;
    EXPECT_EQ(std::memcmp(out.data() + (a1 - a0) * qw, alone_b.data() + b0 * qw, (b1 - b0) * qw * 4), 0) << step;
  }
}

TEST(SampleAttention, RejectsBadInput) {
  const Shape s = kShapes[0];
  Cache cache(s, 4, 1);
  ThreadPool pool(1);
  std::vector<float> q(s.heads * s.head_dim), out(q.size());
  AttnSeq ok{0, 1, 0, cache.table.data(), 4};
  EXPECT_TRUE(SampleAttention(cache.layer, cache.samples, &ok, 1, q.data(), s.heads, {s.segment, s.alpha}, out.data(), pool).ok());
  EXPECT_TRUE(SampleAttention(cache.layer, cache.samples, &ok, 1, q.data(), s.heads, {20, s.alpha}, out.data(), pool)
                  .IsInvalidArgument());  // not a multiple of the block size
  EXPECT_TRUE(SampleAttention(cache.layer, cache.samples, &ok, 1, q.data(), s.heads, {32, 0.0f}, out.data(), pool)
                  .IsInvalidArgument());
  EXPECT_TRUE(SampleAttention(cache.layer, cache.samples, &ok, 1, q.data(), s.heads - 3, {32, s.alpha}, out.data(), pool)
                  .IsInvalidArgument());  // the sample pool has other heads
  AttnSeq uncovered{64, 1, 0, cache.table.data(), 4};
  EXPECT_TRUE(SampleAttention(cache.layer, cache.samples, &uncovered, 1, q.data(), s.heads, {32, s.alpha}, out.data(), pool)
                  .IsInvalidArgument());
  EXPECT_TRUE(WriteQuerySamples(cache.samples, &uncovered, 1, q.data()).IsInvalidArgument());
  int32_t bad_table[4] = {0, 1, 2, 9};
  AttnSeq bad_block{48, 1, 0, bad_table, 4};
  EXPECT_TRUE(WriteQuerySamples(cache.samples, &bad_block, 1, q.data()).IsInvalidArgument());
}

}  // namespace
}  // namespace hearth::kernels
