// Dot product of one weight row with one activation row.
//
// Quantized weights take activations already quantized by QuantizeActivationRow
// to ActTypeFor(type): Q4_0/Q4_1/Q8_0 use BlockQ8_1x2, Q4_K/Q6_K use BlockQ8_K,
// and the sums are integer per block with f32 accumulation across blocks.
// F32/F16/BF16 weights take plain f32 activations (ActType::kF32).
#pragma once

#include <cstdint>

#include "kernels/cpu/weight_type.h"

namespace hearth::kernels {

// w: one row of `k` elements of `type`; x: ActRowBytes(ActTypeFor(type), k) bytes.
float VecDot(GgmlType type, int64_t k, const uint8_t* w, const uint8_t* x);
// The scalar reference the SIMD paths are tested against.
float VecDotRef(GgmlType type, int64_t k, const uint8_t* w, const uint8_t* x);

}  // namespace hearth::kernels
