#include "kernels/cpu/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "gtest/gtest.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/test_util.h"

namespace hearth::kernels {
namespace {

using testing::AllWeightTypes;
using testing::AvailableIsas;
using testing::RandomFloats;
using testing::RandomWeights;
using testing::ScopedIsa;

TEST(Fp16, KnownValues) {
  EXPECT_EQ(F32ToF16(1.0f), 0x3c00);
  EXPECT_EQ(F32ToF16(-2.0f), 0xc000);
  EXPECT_EQ(F32ToF16(65504.0f), 0x7bff);
  EXPECT_EQ(F32ToF16(1e6f), 0x7c00);
  EXPECT_EQ(F32ToF16(5.9604645e-8f), 0x0001);  // smallest subnormal
  EXPECT_EQ(F32ToF16(1.0f + 1.0f / 2048), 0x3c00);  // tie rounds to even
  EXPECT_EQ(F16ToF32(0x3555), 0.333251953125f);
  EXPECT_EQ(F16ToF32(0x0001), 5.9604645e-8f);
  EXPECT_EQ(F16ToF32(0x7bff), 65504.0f);
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    ASSERT_EQ(F32ToF16(F16ToF32(static_cast<uint16_t>(h))), h) << h;
  }
  EXPECT_EQ(F32ToBf16(1.0f), 0x3f80);
  EXPECT_EQ(Bf16ToF32(0x4049), 3.140625f);
}

TEST(GgmlType, RowBytes) {
  EXPECT_EQ(RowBytes(GgmlType::kQ4_1, 576).value(), 18u * 20u);
  EXPECT_EQ(RowBytes(GgmlType::kQ4_K, 512).value(), 2u * 144u);
  EXPECT_EQ(RowBytes(GgmlType::kQ6_K, 256).value(), 210u);
  EXPECT_EQ(RowBytes(GgmlType::kF16, 111).value(), 222u);
  EXPECT_TRUE(RowBytes(GgmlType::kQ8_0, 33).status().IsInvalidArgument());
  EXPECT_TRUE(RowBytes(static_cast<GgmlType>(5), 32).status().IsInvalidArgument());
}

// Every fast dequantizer produces exactly the reference's values.
TEST(Dequantize, FastMatchesReference) {
  for (GgmlType type : AllWeightTypes()) {
    const int block = BlockElems(type);
    for (int64_t n : {1, 19, 111, 257, 256, 512}) {
      if (n % block != 0) continue;
      std::vector<uint8_t> w = RandomWeights(type, 1, n, 3);
      std::vector<float> ref(n);
      DequantizeRowRef(type, w.data(), ref.data(), n);
      for (Isa isa : AvailableIsas()) {
        ScopedIsa scoped(isa);
        std::vector<float> got(n, -1.0f);
        DequantizeRow(type, w.data(), got.data(), n);
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(got[i], ref[i]) << GgmlTypeName(type) << " n=" << n << " i=" << i << " " << IsaName(isa);
        }
      }
    }
  }
}

// Quantize then dequantize stays within half a step (a full step for Q4_0,
// whose extreme value clamps).
TEST(QuantizeWeights, RoundTripError) {
  const int64_t n = 512;
  std::vector<float> x = RandomFloats(n, 11);
  for (GgmlType type :
       {GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kF16, GgmlType::kBF16, GgmlType::kF32}) {
    std::vector<uint8_t> q(RowBytes(type, n).value());
    ASSERT_TRUE(QuantizeWeightRow(type, x.data(), q.data(), n).ok());
    std::vector<float> back(n);
    DequantizeRowRef(type, q.data(), back.data(), n);
    for (int64_t b = 0; b < n; b += 32) {
      float lo = x[b], hi = x[b], amax = 0;
      for (int j = 0; j < 32; ++j) {
        lo = std::min(lo, x[b + j]);
        hi = std::max(hi, x[b + j]);
        amax = std::max(amax, std::fabs(x[b + j]));
      }
      float bound = 0;
      switch (type) {
        // The f16 scale adds up to 127 * d * 2^-11 on top of half a step.
        case GgmlType::kQ8_0:
          bound = 0.57f * amax / 127;
          break;
        case GgmlType::kQ4_0:
          bound = 1.01f * amax / 8;
          break;
        case GgmlType::kQ4_1:
          bound = 0.51f * (hi - lo) / 15 + 1e-3f * std::fabs(lo);
          break;
        case GgmlType::kF16:
          bound = amax / 1024;
          break;
        case GgmlType::kBF16:
          bound = amax / 128;
          break;
        default: bound = 0; break;
      }
      for (int j = 0; j < 32; ++j) {
        ASSERT_LE(std::fabs(back[b + j] - x[b + j]), bound) << GgmlTypeName(type) << " " << b + j;
      }
    }
  }
  std::vector<uint8_t> q(1024);
  EXPECT_EQ(QuantizeWeightRow(GgmlType::kQ4_K, x.data(), q.data(), 256).code(), Status::Code::kUnimplemented);
}

TEST(QuantizeActivations, Q8_1FastIsExactAndSumsMatch) {
  for (int64_t n : {32, 96, 576}) {
    std::vector<float> x = RandomFloats(n, 5, 3.0f);
    x[3] = 0.0f;
    const size_t pairs = ActRowBytes(ActType::kQ8_1, n) / sizeof(BlockQ8_1x2);
    ASSERT_EQ(pairs, static_cast<size_t>((n / 32 + 1) / 2));
    for (bool f16_sum : {true, false}) {
      std::vector<BlockQ8_1x2> ref(pairs);
      QuantizeRowQ8_1Ref(x.data(), ref.data(), n, f16_sum);
      for (int64_t b = 0; b < n / 32; ++b) {
        const BlockQ8_1x2& p = ref[b / 2];
        const int h = b % 2;
        int sum = 0, amax = 0;
        float xmax = 0.0f;
        for (int j = 0; j < 32; ++j) {
          sum += p.qs[32 * h + j];
          amax = std::max(amax, std::abs(static_cast<int>(p.qs[32 * h + j])));
          xmax = std::max(xmax, std::fabs(x[32 * b + j]));
          EXPECT_NEAR(p.qs[32 * h + j] * p.d[h], x[32 * b + j], 0.51f * p.d[h] + 2e-3f * xmax);
        }
        // d is rounded to f16 like llama.cpp's block_q8_0/q8_1 scale; so is
        // s for Q8_1, computed from the unrounded d.
        EXPECT_EQ(p.d[h], RoundToF16(xmax / 127.0f));
        if (f16_sum) {
          EXPECT_EQ(p.s[h], RoundToF16(xmax / 127.0f * static_cast<float>(sum)));
        } else {
          EXPECT_EQ(p.s[h], p.d[h] * static_cast<float>(sum));
        }
        EXPECT_EQ(amax, 127);
      }
      if ((n / 32) % 2 != 0) {  // the unused half of the last pair is zero
        EXPECT_EQ(ref.back().d[1], 0.0f);
        EXPECT_EQ(ref.back().s[1], 0.0f);
        EXPECT_EQ(ref.back().qs[63], 0);
      }
      for (Isa isa : AvailableIsas()) {
        ScopedIsa scoped(isa);
        std::vector<BlockQ8_1x2> got(pairs);
        std::memset(got.data(), 0x5a, pairs * sizeof(BlockQ8_1x2));
        QuantizeRowQ8_1(x.data(), got.data(), n, f16_sum);
        EXPECT_EQ(std::memcmp(got.data(), ref.data(), sizeof(BlockQ8_1x2) * pairs), 0) << IsaName(isa);
      }
    }
  }
  // An all-zero block quantizes to zeros with scale 0.
  std::vector<float> zeros(32, 0.0f);
  BlockQ8_1x2 z;
  QuantizeRowQ8_1(zeros.data(), &z, 32);
  EXPECT_EQ(z.d[0], 0.0f);
  EXPECT_EQ(z.s[0], 0.0f);
}

TEST(QuantizeActivations, Q8_KFastIsExactAndSumsMatch) {
  const int64_t n = 512;
  std::vector<float> x = RandomFloats(n, 6, 2.0f);
  std::vector<BlockQ8_K> ref(n / 256);
  QuantizeRowQ8_KRef(x.data(), ref.data(), n);
  for (const BlockQ8_K& b : ref) {
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += b.qs[16 * g + j];
      EXPECT_EQ(sum, b.bsums[g]);
    }
  }
  for (Isa isa : AvailableIsas()) {
    ScopedIsa scoped(isa);
    std::vector<BlockQ8_K> got(n / 256);
    QuantizeRowQ8_K(x.data(), got.data(), n);
    EXPECT_EQ(std::memcmp(got.data(), ref.data(), sizeof(BlockQ8_K) * got.size()), 0) << IsaName(isa);
  }
}

}  // namespace
}  // namespace hearth::kernels
