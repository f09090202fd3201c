#include "kernels/cuda/rms_norm.h"

#include "kernels/cuda/cuda_check.h"

namespace hearth::cuda {
namespace {

constexpr int kThreads = 256;

// One block per row. The sum of squares is reduced in a fixed order (strided
// per thread, then a tree over the block) so a row's result does not depend
// on how many rows the batch holds.
static __global__ void RmsNormKernel(const float* x, const float* w, float* y, int64_t hidden, float eps) {
  const float* xr = x + blockIdx.x * hidden;
  float* yr = y + blockIdx.x * hidden;
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) sum += xr[i] * xr[i];
  __shared__ float partial[kThreads];
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  const float scale = rsqrtf(partial[0] / static_cast<float>(hidden) + eps);
  for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) yr[i] = xr[i] * scale * w[i];
}

}  // namespace

Status RmsNorm(const float* x, const float* w, float* y, int64_t num_rows, int64_t hidden, float eps,
               cudaStream_t stream) {
  if (num_rows < 0 || hidden <= 0) return Status::InvalidArgument("RmsNorm: bad shape");
  if (num_rows == 0) return Status::Ok();
  if (num_rows > 0x7fffffff) return Status::InvalidArgument("RmsNorm: too many rows");
  RmsNormKernel<<<static_cast<unsigned>(num_rows), kThreads, 0, stream>>>(x, w, y, hidden, eps);
  CUDA_RETURN_IF_ERROR(cudaGetLastError());
  return Status::Ok();
}

}  // namespace hearth::cuda
