// Elementwise ops, plain loops the compiler vectorizes where it may.
#include "kernels/cpu/elementwise.h"

#include <cmath>

#include "common/check.h"
#include "kernels/cpu/cpu_isa.h"
#include "kernels/cpu/isa_kernels.h"

namespace hearth::kernels {

void SiluMul(const float* gate, const float* up, int64_t n, float* out) {
  internal::Kernels(ActiveIsa()).silu_mul(gate, up, n, out);
}

void Add(const float* a, const float* b, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void Softmax(float* x, int64_t rows, int64_t d) {
  for (int64_t r = 0; r < rows; ++r, x += d) {
    float max = -INFINITY;
    for (int64_t i = 0; i < d; ++i) max = std::fmax(max, x[i]);
    float sum = 0.0f;
    for (int64_t i = 0; i < d; ++i) {
      x[i] = std::exp(x[i] - max);
      sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (int64_t i = 0; i < d; ++i) x[i] *= inv;
  }
}

int64_t Argmax(const float* x, int64_t n) {
  CHECK_GT(n, 0);
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (x[i] > x[best] || std::isnan(x[best])) best = i;
  }
  return best;
}

}  // namespace hearth::kernels
