// y[n, m] = x[n, k] . W[m, k]^T over a weight matrix of any GgmlType.
//
// Batch invariance: y[i, j] is one dot product of x row i and W row j computed
// in a fixed order, so it is bit-identical whatever n is, whatever other rows
// x holds, and however the work is split among threads (at a fixed ISA level).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/status.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cpu/weight_type.h"

namespace hearth::kernels {

// W is WeightView (weight_type.h) with rows = m, cols = k.
// x: [n, k] f32, y: [n, m] f32 (must not alias x). Quantizes x once into the
// pool's shared scratch, then tiles W rows x x rows over the pool's threads.
Status MatMul(const WeightView& w, const float* x, int64_t n, float* y, ThreadPool& pool);

// One product of a group that reads the same x.
struct MatMulOutput {
  const WeightView* w = nullptr;
  float* y = nullptr;  // [n, w->rows]
};

// y_i = x . W_i^T for every output of the group, bit-identical to MatMul on each, in one
// parallel-for over all their rows with x quantized once (per activation format). A decode step
// runs Q, K and V (and gate and up) this way: one wait for the threads instead of three.
Status MatMulShared(std::span<const MatMulOutput> outputs, const float* x, int64_t n, ThreadPool& pool);

}  // namespace hearth::kernels
