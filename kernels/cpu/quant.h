// Quantize and dequantize rows: every weight type to f32, f32 activations to
// the 8-bit formats the dot products consume, and f32 to a few weight formats
// (for tests and tools). `...Ref` functions are the scalar references; the
// others run at ActiveIsa(). These are Hearth's only (de)quantizers: tools and
// model tests use the whole-tensor forms at the end.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "kernels/cpu/weight_type.h"

namespace hearth::kernels {

// dst[n] = values of the `n` elements at src (n a multiple of the block size).
void DequantizeRow(GgmlType type, const uint8_t* src, float* dst, int64_t n);
void DequantizeRowRef(GgmlType type, const uint8_t* src, float* dst, int64_t n);

// Activations: x[n] -> ceil(n/64) BlockQ8_1x2 (n % 32 == 0), per block
// d = f16(max|x|/127), qs = round-to-nearest-even(x * 127/max|x|) and
// s = f16(max|x|/127 * sum(qs)) (llama.cpp's quantize_row_q8_1). With
// f16_sum false, s = d * sum(qs) exactly (the ActType::kQ8_0 rows).
void QuantizeRowQ8_1(const float* x, BlockQ8_1x2* y, int64_t n, bool f16_sum = true);
void QuantizeRowQ8_1Ref(const float* x, BlockQ8_1x2* y, int64_t n, bool f16_sum = true);
// Activations: x[n] -> n/256 BlockQ8_K (n % 256 == 0).
void QuantizeRowQ8_K(const float* x, BlockQ8_K* y, int64_t n);
void QuantizeRowQ8_KRef(const float* x, BlockQ8_K* y, int64_t n);
// x[n] -> the activation format `act` at dst (ActRowBytes(act, n) bytes; f32 is copied).
void QuantizeActivationRow(ActType act, const float* x, uint8_t* dst, int64_t n);

// Weights: x[n] -> one row of `type` at dst (RowBytes(type, n) bytes), rounding as ggml's
// quantize_row_*_ref do. Supports F32, F16, BF16, Q8_0, Q4_0 and Q4_1; Unimplemented for
// K-quants.
Status QuantizeWeightRow(GgmlType type, const float* x, uint8_t* dst, int64_t n);

// Whole tensors with errors as values, for tools and for data read from files: the scalar
// references above over any ggml type. InvalidArgument when `num_elements` is not a multiple of
// the block size or `num_bytes` is not its size; Unimplemented for types without a reference.
StatusOr<std::vector<float>> DequantizeTensor(GgmlType type, const uint8_t* src, uint64_t num_bytes,
                                              uint64_t num_elements);
StatusOr<std::vector<uint8_t>> QuantizeTensor(GgmlType type, const float* src, uint64_t num_elements);

}  // namespace hearth::kernels
