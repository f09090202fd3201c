// Block layouts of ggml types (elements per block, bytes per block), from the ggml format.
#include "model/ggml_type.h"

#include <string>

namespace hearth::model {
namespace {

struct TypeEntry {
  GgmlType type;
  const char* name;
  GgmlBlockLayout layout;
};

constexpr uint32_t kQK = 32;    // elements per block of the legacy quants
constexpr uint32_t kQKK = 256;  // elements per super-block of the k-quants and i-quants

constexpr TypeEntry kTypes[] = {
    {GgmlType::F32, "f32", {1, 4}},
    {GgmlType::F16, "f16", {1, 2}},
    {GgmlType::Q4_0, "q4_0", {kQK, 2 + kQK / 2}},
    {GgmlType::Q4_1, "q4_1", {kQK, 4 + kQK / 2}},
    {GgmlType::Q5_0, "q5_0", {kQK, 2 + 4 + kQK / 2}},
    {GgmlType::Q5_1, "q5_1", {kQK, 4 + 4 + kQK / 2}},
    {GgmlType::Q8_0, "q8_0", {kQK, 2 + kQK}},
    {GgmlType::Q8_1, "q8_1", {kQK, 4 + 4 + kQK}},
    {GgmlType::Q2_K, "q2_K", {kQKK, 2 + 2 + kQKK / 16 + kQKK / 4}},
    {GgmlType::Q3_K, "q3_K", {kQKK, 2 + kQKK / 4 + kQKK / 8 + 12}},
    {GgmlType::Q4_K, "q4_K", {kQKK, 2 + 2 + 12 + kQKK / 2}},
    {GgmlType::Q5_K, "q5_K", {kQKK, 2 + 2 + 12 + kQKK / 8 + kQKK / 2}},
    {GgmlType::Q6_K, "q6_K", {kQKK, kQKK / 2 + kQKK / 4 + kQKK / 16 + 2}},
    {GgmlType::Q8_K, "q8_K", {kQKK, 4 + kQKK + kQKK / 16 * 2}},
    {GgmlType::IQ2_XXS, "iq2_xxs", {kQKK, 2 + kQKK / 4}},
    {GgmlType::IQ2_XS, "iq2_xs", {kQKK, 2 + kQKK / 4 + kQKK / 32}},
    {GgmlType::IQ3_XXS, "iq3_xxs", {kQKK, 2 + kQKK / 4 + kQKK / 8}},
    {GgmlType::IQ1_S, "iq1_s", {kQKK, 2 + kQKK / 8 + kQKK / 16}},
    {GgmlType::IQ4_NL, "iq4_nl", {kQK, 2 + kQK / 2}},
    {GgmlType::IQ3_S, "iq3_s", {kQKK, 2 + kQKK / 4 + kQKK / 8 + kQKK / 32 + 4}},
    {GgmlType::IQ2_S, "iq2_s", {kQKK, 2 + kQKK / 4 + kQKK / 16}},
    {GgmlType::IQ4_XS, "iq4_xs", {kQKK, 2 + 2 + kQKK / 64 + kQKK / 2}},
    {GgmlType::I8, "i8", {1, 1}},
    {GgmlType::I16, "i16", {1, 2}},
    {GgmlType::I32, "i32", {1, 4}},
    {GgmlType::I64, "i64", {1, 8}},
    {GgmlType::F64, "f64", {1, 8}},
    {GgmlType::IQ1_M, "iq1_m", {kQKK, kQKK / 8 + kQKK / 16 + kQKK / 32}},
    {GgmlType::BF16, "bf16", {1, 2}},
    {GgmlType::TQ1_0, "tq1_0", {kQKK, 2 + 4 * 13}},
    {GgmlType::TQ2_0, "tq2_0", {kQKK, 2 + kQKK / 4}},
    {GgmlType::MXFP4, "mxfp4", {kQK, 1 + kQK / 2}},
    {GgmlType::NVFP4, "nvfp4", {64, 36}},
    {GgmlType::Q1_0, "q1_0", {128, 18}},
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
    return Status::Unimplemented("unknown ggml type " +
                                 std::to_string(static_cast<uint32_t>(type)));
  }
  return e->layout;
}

StatusOr<uint64_t> GgmlRowBytes(GgmlType type, uint64_t num_elements) {
  HEARTH_ASSIGN_OR_RETURN(GgmlBlockLayout layout, GgmlLayout(type));
  if (num_elements % layout.block_size != 0) {
    return Status::InvalidArgument(std::to_string(num_elements) + " elements of type " +
                                   GgmlTypeName(type) + " is not a multiple of its block size " +
                                   std::to_string(layout.block_size));
  }
  const uint64_t num_blocks = num_elements / layout.block_size;
  if (num_blocks > UINT64_MAX / layout.type_size) {
    return Status::InvalidArgument("byte size of " + std::to_string(num_elements) +
                                   " elements of type " + GgmlTypeName(type) + " overflows");
  }
  return num_blocks * layout.type_size;
}

bool GgmlTypeIsSupported(GgmlType type) {
  switch (type) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16:
    case GgmlType::Q8_0:
    case GgmlType::Q4_0:
    case GgmlType::Q4_1:
    case GgmlType::Q4_K:
    case GgmlType::Q6_K:
      return true;
    default:
      return false;
  }
}

Status CheckGgmlTypeSupported(GgmlType type, std::string_view tensor_name) {
  if (GgmlTypeIsSupported(type)) return Status::Ok();
  return Status::Unimplemented("tensor '" + std::string(tensor_name) + "' has type " +
                               GgmlTypeName(type) + " (" +
                               std::to_string(static_cast<uint32_t>(type)) +
                               "), which Hearth does not support yet; supported: f32, f16, "
                               "bf16, q8_0, q4_0, q4_1, q4_K, q6_K");
}

}  // namespace hearth::model
