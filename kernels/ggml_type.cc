// Block layouts of ggml types (elements per block, bytes per block), from the ggml format; the
// types Hearth computes with take their sizes from their block structs.
#include "kernels/ggml_type.h"

#include <string>

namespace hearth::kernels {
namespace {

struct TypeEntry {
  GgmlType type;
  const char* name;
  GgmlBlockLayout layout;
};

constexpr TypeEntry kTypes[] = {
    {GgmlType::kF32, "f32", {1, 4}},
    {GgmlType::kF16, "f16", {1, 2}},
    {GgmlType::kQ4_0, "q4_0", {kQK, sizeof(BlockQ4_0)}},
    {GgmlType::kQ4_1, "q4_1", {kQK, sizeof(BlockQ4_1)}},
    {GgmlType::kQ5_0, "q5_0", {kQK, 2 + 4 + kQK / 2}},
    {GgmlType::kQ5_1, "q5_1", {kQK, 4 + 4 + kQK / 2}},
    {GgmlType::kQ8_0, "q8_0", {kQK, sizeof(BlockQ8_0)}},
    {GgmlType::kQ8_1, "q8_1", {kQK, 4 + 4 + kQK}},
    {GgmlType::kQ2_K, "q2_K", {kQKK, 2 + 2 + kQKK / 16 + kQKK / 4}},
    {GgmlType::kQ3_K, "q3_K", {kQKK, 2 + kQKK / 4 + kQKK / 8 + 12}},
    {GgmlType::kQ4_K, "q4_K", {kQKK, sizeof(BlockQ4_K)}},
    {GgmlType::kQ5_K, "q5_K", {kQKK, 2 + 2 + 12 + kQKK / 8 + kQKK / 2}},
    {GgmlType::kQ6_K, "q6_K", {kQKK, sizeof(BlockQ6_K)}},
    {GgmlType::kQ8_K, "q8_K", {kQKK, 4 + kQKK + kQKK / 16 * 2}},
    {GgmlType::kIQ2_XXS, "iq2_xxs", {kQKK, 2 + kQKK / 4}},
    {GgmlType::kIQ2_XS, "iq2_xs", {kQKK, 2 + kQKK / 4 + kQKK / 32}},
    {GgmlType::kIQ3_XXS, "iq3_xxs", {kQKK, 2 + kQKK / 4 + kQKK / 8}},
    {GgmlType::kIQ1_S, "iq1_s", {kQKK, 2 + kQKK / 8 + kQKK / 16}},
    {GgmlType::kIQ4_NL, "iq4_nl", {kQK, 2 + kQK / 2}},
    {GgmlType::kIQ3_S, "iq3_s", {kQKK, 2 + kQKK / 4 + kQKK / 8 + kQKK / 32 + 4}},
    {GgmlType::kIQ2_S, "iq2_s", {kQKK, 2 + kQKK / 4 + kQKK / 16}},
    {GgmlType::kIQ4_XS, "iq4_xs", {kQKK, 2 + 2 + kQKK / 64 + kQKK / 2}},
    {GgmlType::kI8, "i8", {1, 1}},
    {GgmlType::kI16, "i16", {1, 2}},
    {GgmlType::kI32, "i32", {1, 4}},
    {GgmlType::kI64, "i64", {1, 8}},
    {GgmlType::kF64, "f64", {1, 8}},
    {GgmlType::kIQ1_M, "iq1_m", {kQKK, kQKK / 8 + kQKK / 16 + kQKK / 32}},
    {GgmlType::kBF16, "bf16", {1, 2}},
    {GgmlType::kTQ1_0, "tq1_0", {kQKK, 2 + 4 * 13}},
    {GgmlType::kTQ2_0, "tq2_0", {kQKK, 2 + kQKK / 4}},
    {GgmlType::kMXFP4, "mxfp4", {kQK, 1 + kQK / 2}},
    {GgmlType::kNVFP4, "nvfp4", {64, 36}},
    {GgmlType::kQ1_0, "q1_0", {128, 18}},
};

const TypeEntry* Lookup(GgmlType type) {
  for (const TypeEntry& e : kTypes) {
    if (e.type == type) return &e;
  }
  return nullptr;
}

}  // namespace

const char* GgmlTypeName(GgmlType type) {
  const TypeEntry* e = Lookup(type);
  return e ? e->name : "unknown";
}

StatusOr<GgmlBlockLayout> GgmlLayout(GgmlType type) {
  const TypeEntry* e = Lookup(type);
  if (!e) {
    return Status::Unimplemented("unknown ggml type " + std::to_string(static_cast<uint32_t>(type)));
  }
  return e->layout;
}

StatusOr<uint64_t> GgmlRowBytes(GgmlType type, uint64_t num_elements) {
  HEARTH_ASSIGN_OR_RETURN(GgmlBlockLayout layout, GgmlLayout(type));
  if (num_elements % layout.block_size != 0) {
    return Status::InvalidArgument(std::to_string(num_elements) + " elements of type " + GgmlTypeName(type) +
                                   " is not a multiple of its block size " + std::to_string(layout.block_size));
  }
  const uint64_t num_blocks = num_elements / layout.block_size;
  if (num_blocks > UINT64_MAX / layout.type_size) {
    return Status::InvalidArgument("byte size of " + std::to_string(num_elements) + " elements of type " +
                                   GgmlTypeName(type) + " overflows");
  }
  return num_blocks * layout.type_size;
}

bool GgmlTypeIsSupported(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kBF16:
    case GgmlType::kQ8_0:
    case GgmlType::kQ4_0:
    case GgmlType::kQ4_1:
    case GgmlType::kQ4_K:
    case GgmlType::kQ6_K:
      return true;
    default:
      return false;
  }
}

Status CheckGgmlTypeSupported(GgmlType type, std::string_view tensor_name) {
  if (GgmlTypeIsSupported(type)) return Status::Ok();
  return Status::Unimplemented("tensor '" + std::string(tensor_name) + "' has type " + GgmlTypeName(type) + " (" +
                               std::to_string(static_cast<uint32_t>(type)) +
                               "), which Hearth does not support yet; supported: f32, f16, "
                               "bf16, q8_0, q4_0, q4_1, q4_K, q6_K");
}

}  // namespace hearth::kernels
