// Internal: the per-ISA kernel entry points and the dispatch that picks them.
// Each ISA lives in its own .cc compiled with that ISA's flags; the rest of
// the library calls only through Kernels(ActiveIsa()).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/weight_type.h"

namespace hearth::kernels::internal {

// y[r * y_stride + j] = dot(w + j*w_stride, x + r*x_stride) for j < num_w and
// r < num_x (num_x 1..4). Each weight row has k elements; each x row is in
// ActTypeFor(type) format. Every output is computed with the same operations
// in the same order whatever num_w, num_x and the neighbours are, which is
// what makes matmul batch-invariant.
using DotTileFn = void (*)(int64_t k, const uint8_t* w, size_t w_stride, int64_t num_w,
                           const uint8_t* x, size_t x_stride, int num_x, float* y,
                           size_t y_stride);
using DequantFn = void (*)(const uint8_t* src, float* dst, int64_t n);
// f16_sum: s rounded to f16 (ActType::kQ8_1) rather than exact (kQ8_0).
using QuantQ8_1Fn = void (*)(const float* x, BlockQ8_1x2* y, int64_t n, bool f16_sum);
using QuantQ8_KFn = void (*)(const float* x, BlockQ8_K* y, int64_t n);
// Fixed-order f32 helpers for attention.
using DotF32Fn = float (*)(const float* a, const float* b, int64_t n);
using DotF32F16Fn = float (*)(const float* a, const uint16_t* b, int64_t n);
using AxpyF32Fn = void (*)(float a, const float* x, float* y, int64_t n);      // y += a*x
using AxpyF16Fn = void (*)(float a, const uint16_t* x, float* y, int64_t n);  // y += a*x
// Attention scores of one query against a transposed tile of kKeyTileT keys,
// out[j] = dot(q, key j) over n dimensions, in the fixed 16-lane order: dimension
// i goes to lane i % 16, each lane sums q[i] * kt[i * kKeyTileT + j] in order of
// i (a multiply, then an add: never fused), then lane l += lane l+8 for l < 8,
// l += l+4, l += l+2, l += l+1. Every ISA gives the same bits.
inline constexpr int kKeyTileT = 32;
using ScoresTFn = void (*)(const float* q /* [n] */, const float* kt /* [n, kKeyTileT] */, int64_t n,
                           float* out /* [kKeyTileT] */);
// s[j] = s[j] * scale rounded to f16 (to nearest even), returned as f32.
using ScaleRoundF16Fn = void (*)(float* s, int64_t n, float scale);
// Value sums of attention: lanes[(j % 16) * n + i] += p[j] * rows[j * n + i]
// for j < num_rows in order, as axpy_f32 of row j into lane j % 16.
using AxpyLanes16Fn = void (*)(const float* p, const float* rows, int64_t num_rows, int64_t n, float* lanes);
// out[i] = silu(gate[i]) * up[i], with llama.cpp's exp (poly_exp.h): the same
// bits at every ISA. out may alias gate or up.
using SiluMulFn = void (*)(const float* gate, const float* up, int64_t n, float* out);
// s[j] = exp(s[j] - max) for j < n; returns their sum (fixed order for a given n).
using ExpSumFn = float (*)(float* s, int64_t n, float max);

struct IsaKernels {
  DotTileFn (*dot_tile)(GgmlType type);  // nullptr result: use the scalar one
  DequantFn (*dequant)(GgmlType type);   // nullptr result: use the scalar one
  QuantQ8_1Fn quant_q8_1;
  QuantQ8_KFn quant_q8_k;
  DotF32Fn dot_f32;
  DotF32F16Fn dot_f32_f16;
  AxpyF32Fn axpy_f32;
  AxpyF16Fn axpy_f16;
  ScoresTFn scores_t;
  ScaleRoundF16Fn scale_round_f16;
  AxpyLanes16Fn axpy_lanes16;
  SiluMulFn silu_mul;
  ExpSumFn exp_sum;
};

const IsaKernels& ScalarKernels();
const IsaKernels& Avx2Kernels();
const IsaKernels& Avx512Kernels();
const IsaKernels& Kernels(Isa isa);

// Resolved for one weight type at one level (falls back to scalar).
DotTileFn DotTileFor(Isa isa, GgmlType type);
DequantFn DequantFor(Isa isa, GgmlType type);

// Scalar references, shared with the SIMD files for the types they leave out.
float VecDotRef(GgmlType type, int64_t k, const uint8_t* w, const uint8_t* x);

}  // namespace hearth::kernels::internal
