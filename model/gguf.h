// Reader for GGUF model files (v2 and v3). Files are untrusted: every count, size and
// offset is checked before use, and malformed input yields a Status, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "kernels/ggml_type.h"

namespace hearth::model {

// GGUF metadata value types, numbered as in the file format.
enum class GgufValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

const char* GgufValueTypeName(GgufValueType type);

// One metadata value. Strings and numeric array elements are views into the file
// (no copies), so a GgufValue is valid only while its GgufFile is alive.
struct GgufValue {
  GgufValueType type = GgufValueType::kUint8;

  // Scalars: which field holds the value depends on `type`.
  uint64_t u64 = 0;       // kUint8, kUint16, kUint32, kUint64
  int64_t i64 = 0;        // kInt8, kInt16, kInt32, kInt64
  double f64 = 0;         // kFloat32, kFloat64
  bool b = false;         // kBool
  std::string_view str;   // kString

  // Arrays (type == kArray).
  GgufValueType elem_type = GgufValueType::kUint8;
  uint64_t count = 0;                     // number of elements
  const uint8_t* raw = nullptr;           // numeric/bool elements: [count * elem size], little-endian
  std::vector<std::string_view> strings;  // elem_type == kString: [count]
  std::vector<GgufValue> items;           // elem_type == kArray (nested): [count]

  bool IsUnsigned() const;  // kUint8..kUint64
  bool IsSigned() const;    // kInt8..kInt64
  bool IsFloat() const;     // kFloat32/kFloat64
  bool IsNumeric() const { return IsUnsigned() || IsSigned() || IsFloat(); }

  // Element i of a numeric/bool array, widened. CHECKs i < count and the element type.
  uint64_t UintAt(uint64_t i) const;
  int64_t IntAt(uint64_t i) const;
  double FloatAt(uint64_t i) const;

  // A short human-readable rendering for `info` output; arrays show their first
  // `max_items` elements.
  std::string DebugString(size_t max_items = 8) const;
};

struct GgufKeyValue {
  std::string key;
  GgufValue value;
};

struct GgufTensorInfo {
  std::string name;
  kernels::GgmlType type = kernels::GgmlType::kF32;
  std::vector<uint64_t> dims;   // dims[0] is the fastest-varying (row length); 1..4 dims
  uint64_t num_elements = 0;    // product of dims
  uint64_t num_bytes = 0;       // size of the data in the file
  uint64_t offset = 0;          // from the start of the data section
  const uint8_t* data = nullptr;  // into the mapping: [num_bytes]
};

class GgufFile {
 public:
  // Maps the file read-only and parses it. The mapping lives as long as the GgufFile.
  static StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);

  // Parses an in-memory file without copying; the caller keeps `data` alive and
  // unchanged for the lifetime of the result.
  static StatusOr<std::unique_ptr<GgufFile>> Parse(const uint8_t* data, size_t size);

  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // start of the data section
  size_t file_size() const { return size_; }

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(std::string_view name) const;

  // All metadata in file order (for `info`-style listings).
  const std::vector<GgufKeyValue>& metadata() const { return metadata_; }
  bool Has(std::string_view key) const { return Find(key) != nullptr; }
  const GgufValue* Find(std::string_view key) const;

  // Typed getters: NotFound when the key is missing, InvalidArgument naming the key and
  // the actual type when it has the wrong type or value range.
  StatusOr<std::string> GetString(std::string_view key) const;
  StatusOr<uint64_t> GetUint(std::string_view key) const;  // any unsigned or non-negative signed
  StatusOr<int64_t> GetInt(std::string_view key) const;    // any integer type that fits int64
  StatusOr<double> GetFloat(std::string_view key) const;   // float32 or float64
  StatusOr<bool> GetBool(std::string_view key) const;
  StatusOr<std::vector<std::string>> GetStringArray(std::string_view key) const;
  StatusOr<std::vector<float>> GetFloatArray(std::string_view key) const;   // float32/64 elements
  StatusOr<std::vector<int64_t>> GetIntArray(std::string_view key) const;   // integer elements

 private:
  class Parser;
  GgufFile() = default;

  // Constant after construction.
  const uint8_t* base_ = nullptr;  // [size_]
  size_t size_ = 0;
  void* mapping_ = nullptr;  // non-null when Open() mapped the file
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<GgufKeyValue> metadata_;
  std::unordered_map<std::string_view, size_t> key_index_;  // views into metadata_ keys
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;  // views into tensors_ names
};

}  // namespace hearth::model
