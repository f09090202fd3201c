// Plain scalar reference dequantizers for the ggml types Hearth supports. Tools and tests
// use these; the fast SIMD kernels live in kernels/cpu and are checked against them.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "model/ggml_type.h"

namespace hearth::model {

float Fp16ToFloat(uint16_t h);
float Bf16ToFloat(uint16_t b);

// Decodes `num_elements` values of `type` from `src` into `dst` ([num_elements] floats).
// `src` must hold GgmlRowBytes(type, num_elements) bytes. Unimplemented for types
// without a reference decoder (anything but f32, f16, bf16, q8_0, q4_0, q4_1, q4_K, q6_K).
Status DequantizeRow(GgmlType type, const uint8_t* src, uint64_t num_elements, float* dst);

// Like DequantizeRow but checks that `num_bytes` is exactly the size of `num_elements`.
StatusOr<std::vector<float>> Dequantize(GgmlType type, const uint8_t* src, uint64_t num_bytes,
                                        uint64_t num_elements);

}  // namespace hearth::model
