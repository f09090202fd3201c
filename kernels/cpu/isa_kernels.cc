// The scalar kernel table and the per-ISA dispatch.
#include "kernels/cpu/isa_kernels.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/fp16.h"
#include "kernels/cpu/poly_exp.h"
#include "kernels/cpu/quant.h"

namespace hearth::kernels::internal {

DequantFn ScalarDequant(GgmlType type);  // quant.cc

namespace {

template <GgmlType kType>
void ScalarDotTile(int64_t k, const uint8_t* w, size_t w_stride, int64_t num_w, const uint8_t* x, size_t x_stride,
                   int num_x, float* y, size_t y_stride) {
  for (int64_t j = 0; j < num_w; ++j) {
    for (int r = 0; r < num_x; ++r) {
      y[r * y_stride + j] = VecDotRef(kType, k, w + j * w_stride, x + r * x_stride);
    }
  }
}

DotTileFn ScalarDotTileFor(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
      return ScalarDotTile<GgmlType::kF32>;
    case GgmlType::kF16:
      return ScalarDotTile<GgmlType::kF16>;
    case GgmlType::kBF16:
      return ScalarDotTile<GgmlType::kBF16>;
    case GgmlType::kQ4_0:
      return ScalarDotTile<GgmlType::kQ4_0>;
    case GgmlType::kQ4_1:
      return ScalarDotTile<GgmlType::kQ4_1>;
    case GgmlType::kQ8_0:
      return ScalarDotTile<GgmlType::kQ8_0>;
    case GgmlType::kQ4_K:
      return ScalarDotTile<GgmlType::kQ4_K>;
    case GgmlType::kQ6_K:
      return ScalarDotTile<GgmlType::kQ6_K>;
    default:
      break;
  }
  CHECK(false) << "no dot product for " << GgmlTypeName(type);
  return nullptr;
}

float ScalarDotF32(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

float ScalarDotF32F16(const float* a, const uint16_t* b, int64_t n) {
  float s = 0.0f;
  for (int64_t i = 0; i < n; ++i) s += a[i] * F16ToF32(b[i]);
  return s;
}

void ScalarAxpyF32(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void ScalarAxpyF16(float a, const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * F16ToF32(x[i]);
}

void ScalarScoresT(const float* q, const float* kt, int64_t n, float* out) {
  for (int j = 0; j < kKeyTileT; ++j) {
    float lane[16] = {};
    for (int64_t i = 0; i < n; ++i) {
      const float product = q[i] * kt[i * kKeyTileT + j];
      lane[i % 16] = lane[i % 16] + product;
    }
    for (int h = 8; h >= 1; h /= 2) {
      for (int l = 0; l < h; ++l) lane[l] = lane[l] + lane[l + h];
    }
    out[j] = lane[0];
  }
}

void ScalarScaleRoundF16(float* s, int64_t n, float scale) {
  for (int64_t j = 0; j < n; ++j) s[j] = RoundToF16(s[j] * scale);
}

void ScalarAxpyLanes16(const float* p, const float* rows, int64_t num_rows, int64_t n, float* lanes) {
  for (int64_t j = 0; j < num_rows; ++j) ScalarAxpyF32(p[j], rows + j * n, lanes + (j % 16) * n, n);
}

// exp(x) as llama.cpp's SiLU computes it; SiluExp in simd_attention.inc
// performs the same operations.
float SiluExpScalar(float x) {
  const PolyExpParts p = PolyExp(x);
  if (!(std::fabs(p.n) <= 192.0f)) return x > 0.0f ? INFINITY : (x < 0.0f ? 0.0f : x);  // NaN stays NaN
  return std::ldexp(p.mantissa, static_cast<int>(p.n));
}

void ScalarSiluMul(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + SiluExpScalar(-g)) * up[i];
  }
}

// Same operations as ExpNonPositive in simd_attention.inc (llama.cpp's exp).
float ExpNonPositiveScalar(float x) {
  const PolyExpParts p = PolyExp(std::max(x, -100.0f));
  if (!(p.n >= -126.0f)) return 0.0f;
  return std::ldexp(p.mantissa, static_cast<int>(p.n));
}

float ScalarExpSum(float* s, int64_t n, float max) {
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    s[j] = ExpNonPositiveScalar(s[j] - max);
    sum += s[j];
  }
  return sum;
}

}  // namespace

const IsaKernels& ScalarKernels() {
  static const IsaKernels k = {
      .dot_tile = ScalarDotTileFor,
      .dequant = ScalarDequant,
      .quant_q8_1 = QuantizeRowQ8_1Ref,
      .quant_q8_k = QuantizeRowQ8_KRef,
      .dot_f32 = ScalarDotF32,
      .dot_f32_f16 = ScalarDotF32F16,
      .axpy_f32 = ScalarAxpyF32,
      .axpy_f16 = ScalarAxpyF16,
      .scores_t = ScalarScoresT,
      .scale_round_f16 = ScalarScaleRoundF16,
      .axpy_lanes16 = ScalarAxpyLanes16,
      .silu_mul = ScalarSiluMul,
      .exp_sum = ScalarExpSum,
  };
  return k;
}

const IsaKernels& Kernels(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return Avx512Kernels();
    case Isa::kAvx2: return Avx2Kernels();
    case Isa::kScalar: break;
  }
  return ScalarKernels();
}

DotTileFn DotTileFor(Isa isa, GgmlType type) {
  DotTileFn fn = Kernels(isa).dot_tile(type);
  return fn != nullptr ? fn : ScalarDotTileFor(type);
}

DequantFn DequantFor(Isa isa, GgmlType type) {
  DequantFn fn = Kernels(isa).dequant(type);
  return fn != nullptr ? fn : ScalarDequant(type);
}

}  // namespace hearth::kernels::internal
