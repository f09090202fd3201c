// Sizes and names of the weight and activation formats.
#include "kernels/cpu/weight_type.h"

#include <string>

namespace hearth::kernels {

bool IsKnownWeightType(uint32_t id) {
  switch (static_cast<WeightType>(id)) {
    case WeightType::kF32:
    case WeightType::kF16:
    case WeightType::kBF16:
    case WeightType::kQ4_0:
    case WeightType::kQ4_1:
    case WeightType::kQ8_0:
    case WeightType::kQ4_K:
    case WeightType::kQ6_K:
      return true;
  }
  return false;
}

const char* WeightTypeName(WeightType type) {
  switch (type) {
    case WeightType::kF32: return "F32";
    case WeightType::kF16: return "F16";
    case WeightType::kBF16: return "BF16";
    case WeightType::kQ4_0: return "Q4_0";
    case WeightType::kQ4_1: return "Q4_1";
    case WeightType::kQ8_0: return "Q8_0";
    case WeightType::kQ4_K: return "Q4_K";
    case WeightType::kQ6_K: return "Q6_K";
  }
  return "unknown";
}

int BlockElems(WeightType type) {
  switch (type) {
    case WeightType::kF32:
    case WeightType::kF16:
    case WeightType::kBF16:
      return 1;
    case WeightType::kQ4_0:
    case WeightType::kQ4_1:
    case WeightType::kQ8_0:
      return kQK;
    case WeightType::kQ4_K:
    case WeightType::kQ6_K:
      return kQKK;
  }
  CHECK(false) << "unknown weight type " << static_cast<uint32_t>(type);
  return 0;
}

size_t BlockBytes(WeightType type) {
  switch (type) {
    case WeightType::kF32: return 4;
    case WeightType::kF16: return 2;
    case WeightType::kBF16: return 2;
    case WeightType::kQ4_0: return sizeof(BlockQ4_0);
    case WeightType::kQ4_1: return sizeof(BlockQ4_1);
    case WeightType::kQ8_0: return sizeof(BlockQ8_0);
    case WeightType::kQ4_K: return sizeof(BlockQ4_K);
    case WeightType::kQ6_K: return sizeof(BlockQ6_K);
  }
  CHECK(false) << "unknown weight type " << static_cast<uint32_t>(type);
  return 0;
}

StatusOr<size_t> RowBytes(WeightType type, int64_t cols) {
  if (!IsKnownWeightType(static_cast<uint32_t>(type))) {
    return Status::InvalidArgument("unknown weight type " +
                                   std::to_string(static_cast<uint32_t>(type)));
  }
  const int block = BlockElems(type);
  if (cols < 0 || cols % block != 0) {
    return Status::InvalidArgument(std::string(WeightTypeName(type)) + " row of " +
                                   std::to_string(cols) + " elements is not a multiple of " +
                                   std::to_string(block));
  }
  return static_cast<size_t>(cols / block) * BlockBytes(type);
}

ActType ActTypeFor(WeightType type) {
  switch (type) {
    case WeightType::kQ4_0:
    case WeightType::kQ8_0:
      return ActType::kQ8_0;
    case WeightType::kQ4_1:
      return ActType::kQ8_1;
    case WeightType::kQ4_K:
    case WeightType::kQ6_K:
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
