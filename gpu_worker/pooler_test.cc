#include "gpu_worker/pooler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace hearth::worker {
namespace {

// Awkward sizes: 37 rows of width 111.
constexpr int64_t kRows = 37, kWidth = 111;

std::vector<float> RandomRows(uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> rows(static_cast<size_t>(kRows * kWidth));
  for (float& x : rows) x = dist(rng);
  return rows;
}

// The plain reference: pool all rows at once in float, then divide by the float norm.
std::vector<float> Reference(const std::vector<float>& rows, Pooling mode) {
  std::vector<float> pooled(kWidth, 0.0f);
  for (int64_t i = 0; i < kWidth; ++i) {
    if (mode == Pooling::kLast) {
      pooled[i] = rows[(kRows - 1) * kWidth + i];
      continue;
    }
    for (int64_t r = 0; r < kRows; ++r) pooled[i] += rows[r * kWidth + i];
    pooled[i] /= kRows;
  }
  float sq = 0;
  for (float x : pooled) sq += x * x;
  for (float& x : pooled) x /= std::sqrt(sq);
  return pooled;
}

double Norm(const std::vector<float>& v) {
  double sq = 0;
  for (float x : v) sq += double{x} * x;
  return std::sqrt(sq);
}

TEST(PoolerTest, MeanAndLastMatchThePlainReference) {
  const std::vector<float> rows = RandomRows(1);
  for (Pooling mode : {Pooling::kMean, Pooling::kLast}) {
    Pooler p(mode, kWidth);
    p.Add(rows.data(), kRows);
    const std::vector<float> got = p.Finish();
    const std::vector<float> want = Reference(rows, mode);
    ASSERT_EQ(got.size(), static_cast<size_t>(kWidth));
    for (int64_t i = 0; i < kWidth; ++i) EXPECT_NEAR(got[i], want[i], 1e-6f + 1e-5f * std::fabs(want[i])) << i;
    EXPECT_NEAR(Norm(got), 1.0, 1e-6);
    EXPECT_EQ(p.num_rows(), kRows);
  }
}

TEST(PoolerTest, ChunkingDoesNotChangeABit) {
  const std::vector<float> rows = RandomRows(2);
  for (Pooling mode : {Pooling::kMean, Pooling::kLast}) {
    Pooler whole(mode, kWidth);
    whole.Add(rows.data(), kRows);
    for (int64_t chunk : {1, 5, 16, 36}) {
      Pooler cut(mode, kWidth);
      for (int64_t r = 0; r < kRows; r += chunk) cut.Add(rows.data() + r * kWidth, std::min(chunk, kRows - r));
      EXPECT_EQ(cut.Finish(), whole.Finish()) << "chunk " << chunk;
    }
  }
}

TEST(PoolerTest, MeanIsNotLast) {
  const std::vector<float> rows = RandomRows(3);
  Pooler mean(Pooling::kMean, kWidth), last(Pooling::kLast, kWidth);
  mean.Add(rows.data(), kRows);
  last.Add(rows.data(), kRows);
  EXPECT_NE(mean.Finish(), last.Finish());
}

TEST(PoolerTest, ZeroVectorAndNothingAddedStayZero) {
  Pooler empty(Pooling::kMean, 4);
  EXPECT_EQ(empty.Finish(), std::vector<float>(4, 0.0f));
  const std::vector<float> zeros(8, 0.0f);
  Pooler z(Pooling::kLast, 4);
  z.Add(zeros.data(), 2);
  EXPECT_EQ(z.Finish(), std::vector<float>(4, 0.0f));
}

TEST(PoolerTest, L2NormalizeScalesToUnitNorm) {
  EXPECT_EQ(L2Normalize({3.0, 4.0}), (std::vector<float>{0.6f, 0.8f}));
  EXPECT_EQ(L2Normalize({0.0, 0.0}), (std::vector<float>{0.0f, 0.0f}));
}

}  // namespace
}  // namespace hearth::worker
