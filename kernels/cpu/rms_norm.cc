// RMS norm: sum of squares in double, fixed order (matches llama.cpp).
#include "kernels/cpu/rms_norm.h"

#include <cmath>

namespace hearth::kernels {

namespace {

// Squares rounded to f32, summed in double in order (what llama.cpp does, so
// the norm's scale matches its bit for bit).
double SumSquares(const float* x, int64_t d) {
  double sum = 0.0;
  for (int64_t i = 0; i < d; ++i) {
    const float sq = x[i] * x[i];
    sum += static_cast<double>(sq);
  }
  return sum;
}

}  // namespace

void RmsNorm(const float* x, const float* w, int64_t n, int64_t d, float eps, float* y) {
  for (int64_t r = 0; r < n; ++r, x += d, y += d) {
    const float mean = static_cast<float>(SumSquares(x, d) / static_cast<double>(d));
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int64_t i = 0; i < d; ++i) {
      const float xs = x[i] * scale;
      y[i] = xs * w[i];
    }
  }
}

}  // namespace hearth::kernels
