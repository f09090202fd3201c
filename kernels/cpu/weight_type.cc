// Block and row sizes of the weight formats the CPU kernels support, and of the activation formats.
#include "kernels/cpu/weight_type.h"

#include <string>

namespace hearth::kernels {

namespace {

GgmlBlockLayout SupportedLayout(GgmlType type) {
  CHECK(GgmlTypeIsSupported(type)) << "the CPU kernels do not compute with " << GgmlTypeName(type) << " ("
                                   << static_cast<uint32_t>(type) << ")";
  return *GgmlLayout(type);
}

}  // namespace

int BlockElems(GgmlType type) { return static_cast<int>(SupportedLayout(type).block_size); }

size_t BlockBytes(GgmlType type) { return SupportedLayout(type).type_size; }

StatusOr<size_t> RowBytes(GgmlType type, int64_t cols) {
  if (!GgmlTypeIsSupported(type)) {
    return Status::InvalidArgument(std::string("the CPU kernels do not compute with ") + GgmlTypeName(type) + " (" +
                                   std::to_string(static_cast<uint32_t>(type)) + ")");
  }
  const int block = BlockElems(type);
  if (cols < 0 || cols % block != 0) {
    return Status::InvalidArgument(std::string(GgmlTypeName(type)) + " row of " + std::to_string(cols) +
                                   " elements is not a multiple of " + std::to_string(block));
  }
  return static_cast<size_t>(cols / block) * BlockBytes(type);
}

ActType ActTypeFor(GgmlType type) {
  switch (type) {
    case GgmlType::kQ4_0:
    case GgmlType::kQ8_0:
      return ActType::kQ8_0;
    case GgmlType::kQ4_1:
      return ActType::kQ8_1;
    case GgmlType::kQ4_K:
    case GgmlType::kQ6_K:
      return ActType::kQ8_K;
    default:
      return ActType::kF32;
  }
}

size_t ActRowBytes(ActType act, int64_t cols) {
  switch (act) {
    case ActType::kF32: return static_cast<size_t>(cols) * sizeof(float);
    case ActType::kQ8_0:
    case ActType::kQ8_1: return static_cast<size_t>((cols / kQK + 1) / 2) * sizeof(BlockQ8_1x2);
    case ActType::kQ8_K: return static_cast<size_t>(cols / kQKK) * sizeof(BlockQ8_K);
  }
  return 0;
}

}  // namespace hearth::kernels
