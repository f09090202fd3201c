// RMS normalization: y = x / sqrt(mean(x^2) + eps) * w, row by row.
#pragma once

#include <cstdint>

namespace hearth::kernels {

// x: [n, d], w: [d], y: [n, d] (y may equal x). Each row is reduced in a fixed
// order, so a row's result does not depend on its batch.
void RmsNorm(const float* x, const float* w, int64_t n, int64_t d, float eps, float* y);

}  // namespace hearth::kernels
