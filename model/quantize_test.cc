#include "model/quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "model/dequantize.h"

namespace hearth::model {
namespace {

std::vector<float> RandomFloats(size_t n, float scale, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

TEST(QuantizeTest, Fp16RoundsToNearestEven) {
  EXPECT_EQ(FloatToFp16(1.0f), 0x3C00);
  EXPECT_EQ(FloatToFp16(-2.0f), 0xC000);
  EXPECT_EQ(FloatToFp16(65504.0f), 0x7BFF);
  EXPECT_EQ(FloatToFp16(65520.0f), 0x7C00);  // halfway to the next step rounds to inf
  EXPECT_EQ(FloatToFp16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie -> even
  EXPECT_EQ(FloatToFp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie -> even (up)
  EXPECT_EQ(FloatToFp16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(FloatToFp16(std::ldexp(1.0f, -26)), 0x0000);
  EXPECT_EQ(FloatToFp16(std::ldexp(1023.0f, -24)), 0x03FF);
  EXPECT_EQ(FloatToFp16(std::nanf("")) & 0x7E00, 0x7E00);
  // Every finite half survives a round trip.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00) == 0x7C00) continue;
    ASSERT_EQ(FloatToFp16(Fp16ToFloat(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
}

TEST(QuantizeTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(FloatToBf16(1.0f), 0x3F80);
  EXPECT_EQ(FloatToBf16(Bf16ToFloat(0x4049)), 0x4049);
  EXPECT_EQ(FloatToBf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);  // tie -> even
  EXPECT_TRUE(std::isnan(Bf16ToFloat(FloatToBf16(std::nanf("")))));
}

// Round trip error is at most half a quantization step (plus f16 rounding of the scale).
// Q4_0's step is amax/8, and the code range [-8, 7] clips the extreme opposite to the
// largest-magnitude element by one whole step, so its bound is a full step.
struct Case {
  GgmlType type;
  float steps;  // half-steps across the block's range (2*amax, or max-min for Q4_1)
};

TEST(QuantizeTest, RoundTripErrorIsBounded) {
  const size_t n = 32 * 37;
  for (Case c : {Case{GgmlType::Q8_0, 254}, Case{GgmlType::Q4_0, 8}, Case{GgmlType::Q4_1, 15}}) {
    SCOPED_TRACE(GgmlTypeName(c.type));
    auto x = RandomFloats(n, 0.7f, 7);
    x[5] = 0.0f;
    auto q = Quantize(c.type, x.data(), n);
    ASSERT_TRUE(q.ok());
    ASSERT_EQ(q->size(), *GgmlRowBytes(c.type, n));
    auto y = Dequantize(c.type, q->data(), q->size(), n);
    ASSERT_TRUE(y.ok());
    double sq = 0;
    for (size_t b = 0; b < n / 32; ++b) {
      float lo = x[b * 32], hi = x[b * 32];
      for (size_t j = 0; j < 32; ++j) {
        lo = std::min(lo, x[b * 32 + j]);
        hi = std::max(hi, x[b * 32 + j]);
      }
      const float amax = std::max(std::fabs(lo), std::fabs(hi));
      const float range = c.type == GgmlType::Q4_1 ? hi - lo : 2 * amax;
      const float step = range / c.steps;
      for (size_t j = 0; j < 32; ++j) {
        const size_t i = b * 32 + j;
        ASSERT_LE(std::fabs((*y)[i] - x[i]), 0.5f * step + 2e-3f * amax) << "element " << i;
        sq += ((*y)[i] - x[i]) * ((*y)[i] - x[i]);
      }
    }
    EXPECT_GT(sq, 0.0);  // the test can tell quantized from exact
  }
}

TEST(QuantizeTest, ZeroBlockAndF32F16Paths) {
  std::vector<float> zeros(64, 0.0f);
  for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::F16, GgmlType::BF16,
                     GgmlType::F32}) {
    auto q = Quantize(t, zeros.data(), 64);
    ASSERT_TRUE(q.ok());
    auto y = Dequantize(t, q->data(), q->size(), 64);
    ASSERT_TRUE(y.ok());
    for (float v : *y) EXPECT_EQ(v, 0.0f) << GgmlTypeName(t);
  }
  EXPECT_FALSE(Quantize(GgmlType::Q4_K, zeros.data(), 64).ok());
  EXPECT_FALSE(Quantize(GgmlType::Q8_0, zeros.data(), 48).ok());
}

}  // namespace
}  // namespace hearth::model
