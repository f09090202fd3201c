// CUDA_RETURN_IF_ERROR: turns a failed CUDA runtime call into a Status that
// records the expression, file and line. Kernel paths never exit().
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "common/status.h"

#define CUDA_RETURN_IF_ERROR(expr)                                                              \
  do {                                                                                          \
    cudaError_t _err = (expr);                                                                  \
    if (_err != cudaSuccess) {                                                                  \
      return ::hearth::Status::Internal(std::string(#expr) + " failed at " + __FILE__ + ":" +   \
                                        std::to_string(__LINE__) + ": " + cudaGetErrorString(_err)); \
    }                                                                                           \
  } while (0)

namespace hearth::cuda {

// Number of usable CUDA devices; 0 when there is no driver or no GPU.
int DeviceCount();

}  // namespace hearth::cuda
