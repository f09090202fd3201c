// The exp that llama.cpp's CPU kernels use (its softmax and SiLU), so that
// Hearth's results match it bit for bit: x = n*ln2 + b with n = round(x*log2 e)
// and ln2 split in two parts, exp(b) by a degree-5 polynomial evaluated with
// fma, then scaled by 2^n exactly. Callers handle the range of n.
#pragma once

#include <cmath>

namespace hearth::kernels {

struct PolyExpParts {
  float mantissa;  // exp(b), in [~0.7, ~1.42]
  float n;         // the power of two, an integer value
};

inline PolyExpParts PolyExp(float x) {
  const float shift = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, shift);
  const float n = z - shift;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const float u = b * b;
  const float hi = std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f));
  return {std::fma(hi, u, std::fma(0x1.ffffecp-1f, b, 1.0f)), n};
}

}  // namespace hearth::kernels
