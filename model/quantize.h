// Simple reference quantizers (round-to-nearest, one scale per block) for the types
// hearth-make-model writes: f32, f16, bf16, q8_0, q4_0, q4_1.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "model/ggml_type.h"

namespace hearth::model {

// IEEE half with round-to-nearest-even; overflow gives inf, NaN stays NaN.
uint16_t FloatToFp16(float f);
// bfloat16 with round-to-nearest-even; NaN stays NaN.
uint16_t FloatToBf16(float f);

// Encodes `num_elements` floats from `src` into `dst`, which must hold
// GgmlRowBytes(type, num_elements) bytes. Unimplemented for other types.
Status QuantizeRow(GgmlType type, const float* src, uint64_t num_elements, uint8_t* dst);

StatusOr<std::vector<uint8_t>> Quantize(GgmlType type, const float* src, uint64_t num_elements);

}  // namespace hearth::model
