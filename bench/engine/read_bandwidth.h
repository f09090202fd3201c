// The machine's memory read bandwidth as the engine's threads see it: every thread of the pool
// sums its share of a buffer much larger than the caches. Decode at batch 1 reads every weight
// once per token, so weight bytes over this bandwidth is its floor (the roofline).
#pragma once

#include <cstddef>

#include "kernels/cpu/thread_pool.h"

namespace hearth::bench {

// Bytes per second of the fastest of `repeats` passes over a `bytes` buffer (allocated and
// touched first), read by all of `pool`'s threads at once.
double MeasureReadBandwidth(kernels::ThreadPool& pool, size_t bytes = size_t{512} << 20, int repeats = 5);

}  // namespace hearth::bench
