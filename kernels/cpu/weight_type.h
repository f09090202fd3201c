// What the CPU kernels read and write besides the ggml block structs (kernels/ggml_type.h):
// the activation formats, a weight matrix in memory, and block and row sizes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/status.h"
#include "kernels/ggml_type.h"

namespace hearth::kernels {

// Activation formats (Hearth's own layout, never stored in files).
// Blocks of 32 int8 with a scale d and s = d * sum(qs), which the Q4_0/Q4_1
// dots need for their offset terms. The values match llama.cpp's block_q8_0 /
// block_q8_1 (its vec_dot_type for these weights): d = max|x|/127 rounded to
// f16, qs = round(x * 127/max|x|). For Q4_1 (ActType::kQ8_1) s is f16(d * sum)
// with d before rounding, as block_q8_1 stores it; for Q4_0 and Q8_0
// (ActType::kQ8_0) s is the f16 d times the sum, exact in f32, so the Q4_0
// offset term equals llama.cpp's integer (q - 8) products.
// Stored two blocks per struct so that SIMD code loads both scales, both sums
// and 64 quants with one load each. Block i is half i % 2 of pair i / 2; the
// second half of a row's last pair is zero when the row has an odd number of
// blocks.
struct BlockQ8_1x2 {
  float d[2];            // scales (f16 values): x ~= qs * d
  float s[2];            // d * sum of the block's qs (see above for rounding)
  int8_t qs[2 * kQK];    // [2, 32]
};
// Q8_K: the K-quants' activation format, with per-16 sums for the mins.
struct BlockQ8_K {
  float d;               // scale
  int8_t qs[kQKK];       // [256]
  int16_t bsums[16];     // sums of each 16 consecutive qs
};
static_assert(sizeof(BlockQ8_1x2) == 80);
static_assert(sizeof(BlockQ8_K) == 292);

// A weight matrix in memory (for example mapped from a GGUF file).
struct WeightView {
  GgmlType type;         // one GgmlTypeIsSupported
  int64_t rows;          // m: output features (or vocabulary entries)
  int64_t cols;          // k: input features (a multiple of the block size)
  const uint8_t* data;   // [rows, row_bytes]
  size_t row_bytes;      // stride between rows, >= RowBytes(type, cols)
};

// From the ggml layout table; the type must be GgmlTypeIsSupported (CHECKed).
int BlockElems(GgmlType type);     // elements per block (1 for float types)
size_t BlockBytes(GgmlType type);  // bytes per block

// Bytes in a row of `cols` elements; InvalidArgument unless the kernels support the type and
// cols is a multiple of the block size.
StatusOr<size_t> RowBytes(GgmlType type, int64_t cols);

// The activation format a weight type's dot product consumes.
enum class ActType { kF32, kQ8_0, kQ8_1, kQ8_K };  // kQ8_0/kQ8_1: BlockQ8_1x2
ActType ActTypeFor(GgmlType type);
// Bytes of one activation row of `cols` elements (cols a multiple of the block).
size_t ActRowBytes(ActType act, int64_t cols);

}  // namespace hearth::kernels
