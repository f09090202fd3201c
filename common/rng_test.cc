#include "common/rng.h"

#include <gtest/gtest.h>

#include <vector>

namespace hearth {
namespace {

// Known-answer vectors for philox4x32 with 10 rounds from Random123's kat_vectors file:
// counter (4 words), key (2 words) -> output (4 words).
struct Kat {
  PhiloxCounter counter;
  PhiloxKey key;
  PhiloxCounter expected;
};

constexpr Kat kKats[] = {
    {{0x00000000, 0x00000000, 0x00000000, 0x00000000},
     {0x00000000, 0x00000000},
     {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
     {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
     {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

// Also checked at compile time: the device path relies on the function being constexpr.
static_assert(Philox4x32_10(kKats[0].counter, kKats[0].key) == kKats[0].expected);

TEST(RngTest, PhiloxKnownAnswers) {
  for (const Kat& kat : kKats) {
    EXPECT_EQ(Philox4x32_10(kat.counter, kat.key), kat.expected);
  }
}

TEST(RngTest, BlockMapsSeedAndCounterLowWordFirst) {
  const PhiloxCounter expected = Philox4x32_10({0x243f6a88, 0x85a308d3, 0, 0},
                                               {0xa4093822, 0x299f31d0});
  EXPECT_EQ(PhiloxBlock(0x299f31d0a4093822ull, 0x85a308d3243f6a88ull), expected);
}

TEST(RngTest, SameSeedAndCounterGiveSameValueWhateverTheOrder) {
  const double forward = UniformDouble(42, 7);
  for (uint64_t c = 0; c < 100; ++c) UniformDouble(42, c);
  EXPECT_EQ(UniformDouble(42, 7), forward);
  EXPECT_NE(UniformDouble(43, 7), forward);
  EXPECT_NE(UniformDouble(42, 8), forward);
}

TEST(RngTest, ValuesLieInHalfOpenUnitInterval) {
  for (uint64_t c = 0; c < 10000; ++c) {
    const float f = UniformFloat(1, c);
    const double d = UniformDouble(1, c);
    EXPECT_GE(f, 0.0f);
    EXPECT_LT(f, 1.0f);
    EXPECT_GE(d, 0.0);
    EXPECT_LT(d, 1.0);
  }
}

// Chi-square over 64 equal bins; with 63 degrees of freedom the 99.9% quantile is ~103.4.
// Counter-based, so the statistic is a fixed number: this cannot flake.
double ChiSquare(uint64_t seed, bool use_float) {
  constexpr int kBins = 64;
  constexpr int kDraws = 64000;
  std::vector<int> counts(kBins, 0);
  for (uint64_t c = 0; c < kDraws; ++c) {
    const double u = use_float ? UniformFloat(seed, c) : UniformDouble(seed, c);
    ++counts[static_cast<int>(u * kBins)];
  }
  const double expected = static_cast<double>(kDraws) / kBins;
  double chi2 = 0;
  for (int n : counts) chi2 += (n - expected) * (n - expected) / expected;
  return chi2;
}

TEST(RngTest, UniformityChiSquare) {
  for (uint64_t seed : {0ull, 1ull, 0xdeadbeefcafef00dull}) {
    EXPECT_LT(ChiSquare(seed, /*use_float=*/false), 103.4) << "seed " << seed;
    EXPECT_LT(ChiSquare(seed, /*use_float=*/true), 103.4) << "seed " << seed;
  }
}

TEST(RngTest, MeanIsOneHalf) {
  double sum = 0;
  constexpr int kDraws = 100000;
  for (uint64_t c = 0; c < kDraws; ++c) sum += UniformDouble(99, c);
  // Standard error of the mean is sqrt(1/12/N) ~ 0.0009; 5 sigma.
  EXPECT_NEAR(sum / kDraws, 0.5, 0.0046);
}

}  // namespace
}  // namespace hearth
