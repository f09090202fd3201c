// Elementwise ops, plain loops the compiler vectorizes where it may.
#include "kernels/cpu/elementwise.h"

#include <cmath>

#include "common/check.h"
#include "kernels/cpu/poly_exp.h"

namespace hearth::kernels {

namespace {

// exp(x) as llama.cpp's SiLU computes it, so SwiGLU matches it bit for bit.
float SiluExp(float x) {
  const PolyExpParts p = PolyExp(x);
  if (!(std::fabs(p.n) <= 192.0f)) return x > 0.0f ? INFINITY : (x < 0.0f ? 0.0f : x);  // NaN stays NaN
  return std::ldexp(p.mantissa, static_cast<int>(p.n));
}

}  // namespace

void SiluMul(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    const float silu = g / (1.0f + SiluExp(-g));
    out[i] = silu * up[i];
  }
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
