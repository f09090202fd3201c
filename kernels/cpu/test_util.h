// Test helpers: run a body under every ISA level this CPU has, random data,
// and random weight rows of any type.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/fp16.h"
#include "kernels/cpu/quant.h"
#include "kernels/cpu/weight_type.h"

namespace hearth::kernels::testing {

inline std::vector<Isa> AvailableIsas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (isa <= DetectedIsa()) out.push_back(isa);
  }
  return out;
}

// Sets the active level for a scope and restores the previous one.
class ScopedIsa {
 public:
  explicit ScopedIsa(Isa isa) : saved_(ActiveIsa()) { CHECK(SetActiveIsa(isa).ok()); }
  ~ScopedIsa() { CHECK(SetActiveIsa(saved_).ok()); }

 private:
  Isa saved_;
};

inline std::vector<float> RandomFloats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline std::vector<GgmlType> AllWeightTypes() {
  return {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ4_0,
          GgmlType::kQ4_1, GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ6_K};
}

// Random bytes are valid K-quant blocks once the f16 scales are sane.
inline void FillRandomKQuant(GgmlType type, uint8_t* dst, int64_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(0.001f, 0.02f);
  const size_t bytes = static_cast<size_t>(n / kQKK) * BlockBytes(type);
  for (size_t i = 0; i < bytes; ++i) dst[i] = static_cast<uint8_t>(byte(rng));
  for (int64_t b = 0; b < n / kQKK; ++b) {
    if (type == GgmlType::kQ4_K) {
      auto* blk = reinterpret_cast<BlockQ4_K*>(dst) + b;
      blk->d = F32ToF16(scale(rng));
      blk->dmin = F32ToF16(scale(rng));
    } else {
      auto* blk = reinterpret_cast<BlockQ6_K*>(dst) + b;
      blk->d = F32ToF16(scale(rng));
    }
  }
}

// A [rows, cols] weight matrix of `type` built from random values.
inline std::vector<uint8_t> RandomWeights(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  const size_t row_bytes = RowBytes(type, cols).value();
  std::vector<uint8_t> out(row_bytes * rows + 8);
  std::mt19937 rng(seed);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* dst = out.data() + r * row_bytes;
    if (type == GgmlType::kQ4_K || type == GgmlType::kQ6_K) {
      FillRandomKQuant(type, dst, cols, rng);
    } else {
      std::vector<float> v = RandomFloats(cols, seed * 7919u + static_cast<uint32_t>(r), 0.5f);
      CHECK(QuantizeWeightRow(type, v.data(), dst, cols).ok());
    }
  }
  return out;
}

// |got - want| <= atol + rtol * |want|.
inline ::testing::AssertionResult Near(double got, double want, double atol, double rtol) {
  if (std::fabs(got - want) <= atol + rtol * std::fabs(want)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << got << " want " << want << " (diff "
                                       << got - want << ", atol " << atol << ", rtol " << rtol << ")";
}

}  // namespace hearth::kernels::testing
