// Elementwise ops, plain loops the compiler vectorizes where it may.
#include "kernels/cpu/elementwise.h"

#include <cmath>

#include "common/check.h"

namespace hearth::kernels {

namespace {

// exp(x) as llama.cpp's AVX-512 SiLU computes it (so SwiGLU matches it bit
// for bit): x = n*ln2 + b with n = round(x*log2(e)) and ln2 in two parts,
// exp(b) by a degree-5 polynomial evaluated with fma, times 2^n exactly.
float SiluExp(float x) {
  const float shift = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, shift);
  const float n = z - shift;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const float u = b * b;
  const float hi = std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                            std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f));
  const float j = std::fma(hi, u, std::fma(0x1.ffffecp-1f, b, 1.0f));
  if (!(std::fabs(n) <= 192.0f)) return x > 0.0f ? INFINITY : (x < 0.0f ? 0.0f : x);  // NaN stays NaN
  return std::ldexp(j, static_cast<int>(n));
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
