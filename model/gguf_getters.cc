// Typed metadata getters of GgufFile: clear errors for missing keys and wrong types.
#include <limits>
#include <string>

#include "model/gguf.h"

namespace hearth::model {
namespace {

Status Missing(std::string_view key) {
  return Status::NotFound("gguf: metadata key '" + std::string(key) + "' not found");
}

Status WrongType(std::string_view key, const GgufValue& v, const char* wanted) {
  std::string actual = GgufValueTypeName(v.type);
  if (v.type == GgufValueType::kArray) actual += std::string(" of ") + GgufValueTypeName(v.elem_type);
  return Status::InvalidArgument("gguf: metadata key '" + std::string(key) + "' is " + actual +
                                 ", expected " + wanted);
}

bool ElemIsUnsigned(GgufValueType t) {
  return t == GgufValueType::kUint8 || t == GgufValueType::kUint16 ||
         t == GgufValueType::kUint32 || t == GgufValueType::kUint64;
}
bool ElemIsSigned(GgufValueType t) {
  return t == GgufValueType::kInt8 || t == GgufValueType::kInt16 ||
         t == GgufValueType::kInt32 || t == GgufValueType::kInt64;
}

}  // namespace

StatusOr<std::string> GgufFile::GetString(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(key);
  if (v->type != GgufValueType::kString) return WrongType(key, *v, "string");
  return std::string(v->str);
}

StatusOr<uint64_t> GgufFile::GetUint(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(key);
  if (v->IsUnsigned()) return v->u64;
  if (v->IsSigned()) {
    if (v->i64 < 0) {
      return Status::InvalidArgument("gguf: metadata key '" + std::string(key) + "' is negative (" +
                                     std::to_string(v->i64) + ")");
    }
    return static_cast<uint64_t>(v->i64);
  }
  return WrongType(key, *v, "an unsigned integer");
}

StatusOr<int64_t> GgufFile::GetInt(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(key);
  if (v->IsSigned()) return v->i64;
  if (v->IsUnsigned()) {
    if (v->u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Status::InvalidArgument("gguf: metadata key '" + std::string(key) +
                                     "' does not fit in int64");
    }
    return static_cast<int64_t>(v->u64);
  }
  return WrongType(key, *v, "an integer");
}

StatusOr<double> GgufFile::GetFloat(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(key);
  if (!v->IsFloat()) return WrongType(key, *v, "float32 or float64");
  return v->f64;
}

StatusOr<bool> GgufFile::GetBool(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(key);
  if (v->type != GgufValueType::kBool) return WrongType(key, *v, "bool");
  return v->b;
}

StatusOr<std::vector<std::string>> GgufFile::GetStringArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(key);
  if (v->type != GgufValueType::kArray || v->elem_type != GgufValueType::kString) {
    return WrongType(key, *v, "array of string");
  }
  return std::vector<std::string>(v->strings.begin(), v->strings.end());
}

StatusOr<std::vector<float>> GgufFile::GetFloatArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(key);
  if (v->type != GgufValueType::kArray ||
      (v->elem_type != GgufValueType::kFloat32 && v->elem_type != GgufValueType::kFloat64)) {
    return WrongType(key, *v, "array of float32 or float64");
  }
  std::vector<float> out(v->count);
  for (uint64_t i = 0; i < v->count; ++i) out[i] = static_cast<float>(v->FloatAt(i));
  return out;
}

StatusOr<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return Missing(key);
  if (v->type != GgufValueType::kArray ||
      !(ElemIsSigned(v->elem_type) || ElemIsUnsigned(v->elem_type))) {
    return WrongType(key, *v, "array of integers");
  }
  std::vector<int64_t> out(v->count);
  for (uint64_t i = 0; i < v->count; ++i) {
    if (ElemIsSigned(v->elem_type)) {
      out[i] = v->IntAt(i);
      continue;
    }
    const uint64_t u = v->UintAt(i);
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Status::InvalidArgument("gguf: metadata key '" + std::string(key) + "' element " +
                                     std::to_string(i) + " does not fit in int64");
    }
    out[i] = static_cast<int64_t>(u);
  }
  return out;
}

}  // namespace hearth::model
