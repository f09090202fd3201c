#include "kernels/cpu/vec_dot.h"

#include "gtest/gtest.h"
#include "kernels/cpu/quant.h"
#include "kernels/cpu/test_util.h"

namespace hearth::kernels {
namespace {

using testing::AllWeightTypes;
using testing::AvailableIsas;
using testing::Near;
using testing::RandomFloats;
using testing::RandomWeights;
using testing::ScopedIsa;

// The quantized reference against plain f32 math on dequantized values: the
// error is the activation quantization's (about 1/254 of each |w*x| term).
TEST(VecDot, ReferenceTracksFloatDot) {
  for (GgmlType type : AllWeightTypes()) {
    const int64_t k = BlockElems(type) == 1 ? 111 : 512;
    std::vector<uint8_t> w = RandomWeights(type, 1, k, 21);
    std::vector<float> x = RandomFloats(k, 22);
    std::vector<float> wf(k);
    DequantizeRowRef(type, w.data(), wf.data(), k);
    double exact = 0, mag = 0;
    for (int64_t i = 0; i < k; ++i) {
      exact += static_cast<double>(wf[i]) * x[i];
      mag += std::fabs(static_cast<double>(wf[i]) * x[i]);
    }
    std::vector<uint8_t> xq(ActRowBytes(ActTypeFor(type), k));
    QuantizeActivationRow(ActTypeFor(type), x.data(), xq.data(), k);
    const float got = VecDotRef(type, k, w.data(), xq.data());
    const double tol = ActTypeFor(type) == ActType::kF32 ? 1e-5 * mag : 1.5e-2 * mag;
    EXPECT_TRUE(Near(got, exact, tol, 0)) << GgmlTypeName(type);
  }
}

TEST(VecDot, FastMatchesReference) {
  for (GgmlType type : AllWeightTypes()) {
    const int block = BlockElems(type);
    for (int64_t k : {1, 8, 16, 19, 111, 257, 32, 64, 96, 256, 576, 768, 1536}) {
      if (k % block != 0) continue;
      std::vector<uint8_t> w = RandomWeights(type, 1, k, 31 + static_cast<uint32_t>(k));
      std::vector<float> x = RandomFloats(k, 32);
      std::vector<float> wf(k);
      DequantizeRowRef(type, w.data(), wf.data(), k);
      double mag = 0;
      for (int64_t i = 0; i < k; ++i) mag += std::fabs(static_cast<double>(wf[i]) * x[i]);
      std::vector<uint8_t> xq(ActRowBytes(ActTypeFor(type), k));
      QuantizeActivationRow(ActTypeFor(type), x.data(), xq.data(), k);
      const float ref = VecDotRef(type, k, w.data(), xq.data());
      for (Isa isa : AvailableIsas()) {
        ScopedIsa scoped(isa);
        const float got = VecDot(type, k, w.data(), xq.data());
        EXPECT_TRUE(Near(got, ref, 1e-5 * mag + 1e-6, 1e-5)) << GgmlTypeName(type) << " k=" << k << " " << IsaName(isa);
      }
    }
  }
}

// A zero activation row gives exactly zero, offsets included.
TEST(VecDot, ZeroActivations) {
  for (GgmlType type : AllWeightTypes()) {
    const int64_t k = 256;
    std::vector<uint8_t> w = RandomWeights(type, 1, k, 41);
    std::vector<float> x(k, 0.0f);
    std::vector<uint8_t> xq(ActRowBytes(ActTypeFor(type), k));
    QuantizeActivationRow(ActTypeFor(type), x.data(), xq.data(), k);
    for (Isa isa : AvailableIsas()) {
      ScopedIsa scoped(isa);
      EXPECT_EQ(VecDot(type, k, w.data(), xq.data()), 0.0f) << GgmlTypeName(type);
    }
  }
}

}  // namespace
}  // namespace hearth::kernels
