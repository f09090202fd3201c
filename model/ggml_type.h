// ggml tensor element types (the numbering GGUF files use) and their block layouts.
#pragma once

#include <cstdint>

#include "common/status.h"

namespace hearth::model {

// Values are ggml's; gaps are types ggml removed. Stored as-is in GGUF tensor infos.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
};

// Elements per block and bytes per block. Non-quantized types have block_size 1.
struct GgmlBlockLayout {
  uint32_t block_size;  // elements per block
  uint32_t type_size;   // bytes per block
};

// "q4_K", "f32", ...; "unknown" for values outside the enum.
const char* GgmlTypeName(GgmlType type);

// The block layout of any type ggml defines; NotFound-style error for unknown values.
StatusOr<GgmlBlockLayout> GgmlLayout(GgmlType type);

// Bytes taken by `num_elements` consecutive elements (a row). Errors when the type is
// unknown, when the count is not a multiple of the block size, or on overflow.
StatusOr<uint64_t> GgmlRowBytes(GgmlType type, uint64_t num_elements);

// Whether Hearth can compute with tensors of this type:
// F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K.
bool GgmlTypeIsSupported(GgmlType type);

// OK for supported types; Unimplemented naming the type (and the tensor) otherwise.
Status CheckGgmlTypeSupported(GgmlType type, std::string_view tensor_name);

}  // namespace hearth::model
