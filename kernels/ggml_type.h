// ggml's tensor element types (the numbering GGUF files use), their block layouts, and the block
// structs of the types Hearth computes with. The one definition: the kernels compute with these
// types and model/ reads and writes them in files.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace hearth::kernels {

// Values are ggml's; gaps are types ggml removed. Stored as-is in GGUF tensor infos.
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
  kNVFP4 = 40,
  kQ1_0 = 41,
};

inline constexpr int kQK = 32;    // elements per Q4_0/Q4_1/Q8_0 block
inline constexpr int kQKK = 256;  // elements per K-quant super-block

// Blocks of the types Hearth computes with. Halves (f16) are stored as raw uint16_t bits.
struct BlockQ4_0 {
  uint16_t d;           // f16 scale
  uint8_t qs[kQK / 2];  // [16] element i in low nibble of qs[i], i+16 in high nibble
};
struct BlockQ4_1 {
  uint16_t d;           // f16 scale
  uint16_t m;           // f16 offset (x = q*d + m)
  uint8_t qs[kQK / 2];  // [16] same nibble order as Q4_0
};
struct BlockQ8_0 {
  uint16_t d;      // f16 scale
  int8_t qs[kQK];  // [32]
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

// Elements per block and bytes per block. Non-quantized types have block_size 1.
struct GgmlBlockLayout {
  uint32_t block_size;  // elements per block
  uint32_t type_size;   // bytes per block
};

// "q4_K", "f32", ...; "unknown" for values outside the enum.
const char* GgmlTypeName(GgmlType type);

// The block layout of any type ggml defines; Unimplemented for unknown values.
StatusOr<GgmlBlockLayout> GgmlLayout(GgmlType type);

// Bytes taken by `num_elements` consecutive elements (a row). Errors when the type is
// unknown, when the count is not a multiple of the block size, or on overflow.
StatusOr<uint64_t> GgmlRowBytes(GgmlType type, uint64_t num_elements);

// Whether Hearth's kernels compute with tensors of this type:
// F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K.
bool GgmlTypeIsSupported(GgmlType type);

// OK for supported types; Unimplemented naming the type (and the tensor) otherwise.
Status CheckGgmlTypeSupported(GgmlType type, std::string_view tensor_name);

}  // namespace hearth::kernels
