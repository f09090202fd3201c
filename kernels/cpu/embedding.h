// Token embedding lookup: dequantized rows of the embedding matrix.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "kernels/cpu/weight_type.h"

namespace hearth::kernels {

// table: [vocab, dim] of any weight type; ids: [n]; out: [n, dim] f32.
// InvalidArgument when an id is outside [0, vocab).
Status Embedding(const WeightView& table, const int32_t* ids, int64_t n, float* out);

}  // namespace hearth::kernels
