// GgufValue accessors and rendering.
#include <cstring>
#include <string>

#include "model/gguf.h"

namespace hearth::model {
namespace {

template <typename T>
T LoadLe(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // memcpy: elements need not be aligned
  return v;
}

}  // namespace

const char* GgufValueTypeName(GgufValueType type) {
  switch (type) {
    case GgufValueType::kUint8: return "uint8";
    case GgufValueType::kInt8: return "int8";
    case GgufValueType::kUint16: return "uint16";
    case GgufValueType::kInt16: return "int16";
    case GgufValueType::kUint32: return "uint32";
    case GgufValueType::kInt32: return "int32";
    case GgufValueType::kFloat32: return "float32";
    case GgufValueType::kBool: return "bool";
    case GgufValueType::kString: return "string";
    case GgufValueType::kArray: return "array";
    case GgufValueType::kUint64: return "uint64";
    case GgufValueType::kInt64: return "int64";
    case GgufValueType::kFloat64: return "float64";
  }
  return "unknown";
}

static bool TypeIsUnsigned(GgufValueType t) {
  return t == GgufValueType::kUint8 || t == GgufValueType::kUint16 ||
         t == GgufValueType::kUint32 || t == GgufValueType::kUint64;
}
static bool TypeIsSigned(GgufValueType t) {
  return t == GgufValueType::kInt8 || t == GgufValueType::kInt16 ||
         t == GgufValueType::kInt32 || t == GgufValueType::kInt64;
}
static bool TypeIsFloat(GgufValueType t) {
  return t == GgufValueType::kFloat32 || t == GgufValueType::kFloat64;
}

bool GgufValue::IsUnsigned() const { return TypeIsUnsigned(type); }
bool GgufValue::IsSigned() const { return TypeIsSigned(type); }
bool GgufValue::IsFloat() const { return TypeIsFloat(type); }

uint64_t GgufValue::UintAt(uint64_t i) const {
  CHECK(type == GgufValueType::kArray && i < count && raw != nullptr);
  switch (elem_type) {
    case GgufValueType::kUint8: return raw[i];
    case GgufValueType::kBool: return raw[i];
    case GgufValueType::kUint16: return LoadLe<uint16_t>(raw + 2 * i);
    case GgufValueType::kUint32: return LoadLe<uint32_t>(raw + 4 * i);
    case GgufValueType::kUint64: return LoadLe<uint64_t>(raw + 8 * i);
    default: break;
  }
  CHECK(false) << "UintAt on an array of " << GgufValueTypeName(elem_type);
  return 0;
}

int64_t GgufValue::IntAt(uint64_t i) const {
  CHECK(type == GgufValueType::kArray && i < count && raw != nullptr);
  switch (elem_type) {
    case GgufValueType::kInt8: return LoadLe<int8_t>(raw + i);
    case GgufValueType::kInt16: return LoadLe<int16_t>(raw + 2 * i);
    case GgufValueType::kInt32: return LoadLe<int32_t>(raw + 4 * i);
    case GgufValueType::kInt64: return LoadLe<int64_t>(raw + 8 * i);
    default: break;
  }
  CHECK(false) << "IntAt on an array of " << GgufValueTypeName(elem_type);
  return 0;
}

double GgufValue::FloatAt(uint64_t i) const {
  CHECK(type == GgufValueType::kArray && i < count && raw != nullptr);
  if (elem_type == GgufValueType::kFloat32) return LoadLe<float>(raw + 4 * i);
  if (elem_type == GgufValueType::kFloat64) return LoadLe<double>(raw + 8 * i);
  CHECK(false) << "FloatAt on an array of " << GgufValueTypeName(elem_type);
  return 0;
}

static std::string Quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  out.append(s);
  out.push_back('"');
  return out;
}

static std::string ScalarString(const GgufValue& v) {
  if (v.IsUnsigned()) return std::to_string(v.u64);
  if (v.IsSigned()) return std::to_string(v.i64);
  if (v.IsFloat()) return std::to_string(v.f64);
  if (v.type == GgufValueType::kBool) return v.b ? "true" : "false";
  if (v.type == GgufValueType::kString) return Quoted(v.str);
  return "?";
}

static std::string ElementString(const GgufValue& v, uint64_t i, size_t max_items) {
  const GgufValueType t = v.elem_type;
  if (t == GgufValueType::kString) return Quoted(v.strings[i]);
  if (t == GgufValueType::kArray) return v.items[i].DebugString(max_items);
  if (t == GgufValueType::kBool) return v.UintAt(i) ? "true" : "false";
  if (TypeIsUnsigned(t)) return std::to_string(v.UintAt(i));
  if (TypeIsSigned(t)) return std::to_string(v.IntAt(i));
  return std::to_string(v.FloatAt(i));
}

std::string GgufValue::DebugString(size_t max_items) const {
  if (type != GgufValueType::kArray) return ScalarString(*this);
  std::string out = std::string("[") + GgufValueTypeName(elem_type) + " x " +
                    std::to_string(count) + "]";
  if (count == 0) return out;
  out += " ";
  const uint64_t shown = count < max_items ? count : max_items;
  for (uint64_t i = 0; i < shown; ++i) {
    out += (i ? ", " : "") + ElementString(*this, i, max_items);
  }
  if (shown < count) out += ", ...";
  return out;
}

}  // namespace hearth::model
