// RMS norm with eight interleaved partial sums (vectorizable, fixed order).
#include "kernels/cpu/rms_norm.h"

#include <cmath>

namespace hearth::kernels {

namespace {

float SumSquares(const float* x, int64_t d) {
  float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= d; i += 8) {
    for (int l = 0; l < 8; ++l) part[l] += x[i + l] * x[i + l];
  }
  float sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
  for (; i < d; ++i) sum += x[i] * x[i];
  return sum;
}

}  // namespace

void RmsNorm(const float* x, const float* w, int64_t n, int64_t d, float eps, float* y) {
  for (int64_t r = 0; r < n; ++r, x += d, y += d) {
    const float mean = SumSquares(x, d) / static_cast<float>(d);
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int64_t i = 0; i < d; ++i) y[i] = x[i] * scale * w[i];
  }
}

}  // namespace hearth::kernels
