// Weight formats the CPU kernels read: ggml block layouts, with the numeric
// ids GGUF files use. Kernels own this enum so they do not depend on model/.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/status.h"

namespace hearth::kernels {

enum class WeightType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ8_0 = 8,
  kQ4_K = 12,
  kQ6_K = 14,
  kBF16 = 30,
};

inline constexpr int kQK = 32;    // elements per Q4_0/Q4_1/Q8_0 block
inline constexpr int kQKK = 256;  // elements per K-quant super-block

// Halves (f16) are stored as raw uint16_t bits everywhere.
struct BlockQ4_0 {
  uint16_t d;            // f16 scale
  uint8_t qs[kQK / 2];   // [16] element i in low nibble of qs[i], i+16 in high nibble
};
struct BlockQ4_1 {
  uint16_t d;            // f16 scale
  uint16_t m;            // f16 offset (x = q*d + m)
  uint8_t qs[kQK / 2];   // [16] same nibble order as Q4_0
};
struct BlockQ8_0 {
  uint16_t d;            // f16 scale
  int8_t qs[kQK];        // [32]
};
struct BlockQ4_K {
  uint16_t d;            // f16 super-scale for the 6-bit sub-block scales
  uint16_t dmin;         // f16 super-scale for the 6-bit sub-block mins
  uint8_t scales[12];    // 8 scales + 8 mins, 6 bits each, packed
  uint8_t qs[kQKK / 2];  // [128] nibbles: 64-element groups, low nibbles first
};
struct BlockQ6_K {
  uint8_t ql[kQKK / 2];  // [128] low 4 bits
  uint8_t qh[kQKK / 4];  // [64] high 2 bits
  int8_t scales[16];     // one per 16 elements
  uint16_t d;            // f16 super-scale
};
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ6_K) == 210);

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
  WeightType type;
  int64_t rows;          // m: output features (or vocabulary entries)
  int64_t cols;          // k: input features (a multiple of the block size)
  const uint8_t* data;   // [rows, row_bytes]
  size_t row_bytes;      // stride between rows, >= RowBytes(type, cols)
};

bool IsKnownWeightType(uint32_t id);
const char* WeightTypeName(WeightType type);
int BlockElems(WeightType type);     // elements per block (1 for float types)
size_t BlockBytes(WeightType type);  // bytes per block

// Bytes in a row of `cols` elements; InvalidArgument unless cols is a multiple
// of the block size.
StatusOr<size_t> RowBytes(WeightType type, int64_t cols);

// The activation format a weight type's dot product consumes.
enum class ActType { kF32, kQ8_0, kQ8_1, kQ8_K };  // kQ8_0/kQ8_1: BlockQ8_1x2
ActType ActTypeFor(WeightType type);
// Bytes of one activation row of `cols` elements (cols a multiple of the block).
size_t ActRowBytes(ActType act, int64_t cols);

}  // namespace hearth::kernels
