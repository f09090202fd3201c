// RMSNorm on the GPU: y[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * w.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "common/status.h"

namespace hearth::cuda {

// x, y: device pointers, [num_rows, hidden] f32 with row stride `hidden`;
// w: device [hidden] f32. y may alias x.
Status RmsNorm(const float* x, const float* w, float* y, int64_t num_rows, int64_t hidden, float eps,
               cudaStream_t stream);

}  // namespace hearth::cuda
