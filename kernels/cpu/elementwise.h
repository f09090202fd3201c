// Small row-local ops of the forward pass: SwiGLU, residual add, softmax,
// argmax. All are per element or per row, so batch-invariant by construction.
#pragma once

#include <cstdint>

namespace hearth::kernels {

// out[i] = silu(gate[i]) * up[i] = gate / (1 + exp(-gate)) * up. out may alias
// either input. gate, up, out: [n].
void SiluMul(const float* gate, const float* up, int64_t n, float* out);

// out[i] = a[i] + b[i] (the residual). out may alias either input. [n] each.
void Add(const float* a, const float* b, int64_t n, float* out);

// Softmax of each row of x: [rows, d], in place.
void Softmax(float* x, int64_t rows, int64_t d);

// Index of the largest x[i] (the first one on ties; NaNs are ignored).
// x: [n], n > 0.
int64_t Argmax(const float* x, int64_t n);

}  // namespace hearth::kernels
