// The whole-tensor quantizers and dequantizers (the scalar references, errors as values) and the
// f16/bf16 conversions they use. Moved from model/quantize_test.cc and model/dequantize_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/cpu/fp16.h"
#include "kernels/cpu/quant.h"

namespace hearth::kernels {
namespace {

std::vector<float> RandomFloats(size_t n, float scale, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

TEST(QuantizeTensorTest, Fp16RoundsToNearestEven) {
  EXPECT_EQ(F32ToF16(1.0f), 0x3C00);
  EXPECT_EQ(F32ToF16(-2.0f), 0xC000);
  EXPECT_EQ(F32ToF16(65504.0f), 0x7BFF);
  EXPECT_EQ(F32ToF16(65520.0f), 0x7C00);                          // halfway to the next step rounds to inf
  EXPECT_EQ(F32ToF16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);      // tie -> even
  EXPECT_EQ(F32ToF16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);  // tie -> even (up)
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -26)), 0x0000);
  EXPECT_EQ(F32ToF16(std::ldexp(1023.0f, -24)), 0x03FF);
  EXPECT_EQ(F32ToF16(std::nanf("")) & 0x7E00, 0x7E00);
  // Every finite half survives a round trip.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00) == 0x7C00) continue;
    ASSERT_EQ(F32ToF16(F16ToF32(static_cast<uint16_t>(h))), h) << std::hex << h;
  }
}

TEST(QuantizeTensorTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(F32ToBf16(1.0f), 0x3F80);
  EXPECT_EQ(F32ToBf16(Bf16ToF32(0x4049)), 0x4049);
  EXPECT_EQ(F32ToBf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);  // tie -> even
  EXPECT_TRUE(std::isnan(Bf16ToF32(F32ToBf16(std::nanf("")))));
}

TEST(QuantizeTensorTest, HalfConversions) {
  EXPECT_EQ(F16ToF32(0x3C00), 1.0f);
  EXPECT_EQ(F16ToF32(0xC000), -2.0f);
  EXPECT_EQ(F16ToF32(0x7BFF), 65504.0f);
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(F16ToF32(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_TRUE(std::isinf(F16ToF32(0x7C00)));
  EXPECT_TRUE(std::isnan(F16ToF32(0x7E00)));
  EXPECT_EQ(Bf16ToF32(0x3F80), 1.0f);
  EXPECT_EQ(Bf16ToF32(0xC040), -3.0f);
}

// Round trip error is at most half a quantization step (plus f16 rounding of the scale).
// Q4_0's step is amax/8, and the code range [-8, 7] clips the extreme opposite to the
// largest-magnitude element by one whole step, so its bound is a full step.
struct Case {
  GgmlType type;
  float steps;  // half-steps across the block's range (2*amax, or max-min for Q4_1)
};

TEST(QuantizeTensorTest, RoundTripErrorIsBounded) {
  const size_t n = 32 * 37;
  for (Case c : {Case{GgmlType::kQ8_0, 254}, Case{GgmlType::kQ4_0, 8}, Case{GgmlType::kQ4_1, 15}}) {
    SCOPED_TRACE(GgmlTypeName(c.type));
    auto x = RandomFloats(n, 0.7f, 7);
    x[5] = 0.0f;
    auto q = QuantizeTensor(c.type, x.data(), n);
    ASSERT_TRUE(q.ok());
    ASSERT_EQ(q->size(), *GgmlRowBytes(c.type, n));
    auto y = DequantizeTensor(c.type, q->data(), q->size(), n);
    ASSERT_TRUE(y.ok());
    double sq = 0;
    for (size_t b = 0; b < n / 32; ++b) {
      float lo = x[b * 32], hi = x[b * 32];
      for (size_t j = 0; j < 32; ++j) {
        lo = std::min(lo, x[b * 32 + j]);
        hi = std::max(hi, x[b * 32 + j]);
      }
      const float amax = std::max(std::fabs(lo), std::fabs(hi));
      const float range = c.type == GgmlType::kQ4_1 ? hi - lo : 2 * amax;
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

TEST(QuantizeTensorTest, ZeroBlockAndF32F16Paths) {
  std::vector<float> zeros(64, 0.0f);
  for (GgmlType t :
       {GgmlType::kQ8_0, GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kF16, GgmlType::kBF16, GgmlType::kF32}) {
    auto q = QuantizeTensor(t, zeros.data(), 64);
    ASSERT_TRUE(q.ok());
    auto y = DequantizeTensor(t, q->data(), q->size(), 64);
    ASSERT_TRUE(y.ok());
    for (float v : *y) EXPECT_EQ(v, 0.0f) << GgmlTypeName(t);
  }
  EXPECT_FALSE(QuantizeTensor(GgmlType::kQ4_K, zeros.data(), 64).ok());
  EXPECT_FALSE(QuantizeTensor(GgmlType::kQ8_0, zeros.data(), 48).ok());
}

TEST(QuantizeTensorTest, DequantizeRejectsBadSizesAndTypes) {
  std::vector<uint8_t> bytes(20);
  EXPECT_FALSE(DequantizeTensor(GgmlType::kQ4_1, bytes.data(), 20, 64).ok());  // needs 40 bytes
  EXPECT_FALSE(DequantizeTensor(GgmlType::kQ4_1, bytes.data(), 20, 16).ok());  // not a block multiple
  auto st = DequantizeTensor(GgmlType::kQ5_K, bytes.data(), 176, 256);
  EXPECT_EQ(st.status().code(), Status::Code::kUnimplemented);
}

}  // namespace
}  // namespace hearth::kernels
