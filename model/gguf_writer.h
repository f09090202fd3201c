// Writes GGUF v3 files: metadata of every value type, tensors, alignment. Used by tests
// (to build valid and deliberately broken files) and by tools (hearth-make-model).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "kernels/ggml_type.h"
#include "model/gguf.h"

namespace hearth::model {

class GgufWriter {
 public:
  // Produces a tensor's bytes when the file is written, so tools can write models
  // larger than memory one tensor at a time.
  using TensorProducer = std::function<StatusOr<std::vector<uint8_t>>()>;

  explicit GgufWriter(uint32_t version = 3) : version_(version) {}

  // Sets the data alignment and writes it as `general.alignment` (u32). Default 32.
  void SetAlignment(uint32_t alignment);

  void AddUint8(std::string_view key, uint8_t v);
  void AddInt8(std::string_view key, int8_t v);
  void AddUint16(std::string_view key, uint16_t v);
  void AddInt16(std::string_view key, int16_t v);
  void AddUint32(std::string_view key, uint32_t v);
  void AddInt32(std::string_view key, int32_t v);
  void AddUint64(std::string_view key, uint64_t v);
  void AddInt64(std::string_view key, int64_t v);
  void AddFloat32(std::string_view key, float v);
  void AddFloat64(std::string_view key, double v);
  void AddBool(std::string_view key, bool v);
  void AddString(std::string_view key, std::string_view v);
  void AddStringArray(std::string_view key, const std::vector<std::string>& v);
  void AddFloat32Array(std::string_view key, const std::vector<float>& v);
  void AddInt32Array(std::string_view key, const std::vector<int32_t>& v);
  void AddUint32Array(std::string_view key, const std::vector<uint32_t>& v);
  // Re-encodes a value read from another file (any type, nested arrays included).
  void AddValue(std::string_view key, const GgufValue& v);
  // Escape hatch for tests: `encoded` is the value's bytes after the u32 type tag.
  void AddRaw(std::string_view key, uint32_t type, const std::vector<uint8_t>& encoded);

  // Data must be GgmlRowBytes(type, dims[0]) * rows bytes; checked when writing.
  void AddTensor(std::string_view name, kernels::GgmlType type, std::vector<uint64_t> dims, std::vector<uint8_t> data);
  void AddTensor(std::string_view name, kernels::GgmlType type, std::vector<uint64_t> dims, TensorProducer producer);

  // The whole file in memory (for tests and small files).
  StatusOr<std::vector<uint8_t>> Serialize() const;
  // Streams the file to disk, producing each tensor's data in turn.
  Status WriteFile(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    kernels::GgmlType type;
    std::vector<uint64_t> dims;  // dims[0] = row length
    uint64_t num_bytes;          // expected data size
    TensorProducer producer;
  };
  void AddKey(std::string_view key, uint32_t type);
  StatusOr<std::vector<uint8_t>> Header() const;  // everything before the data section
  Status EmitData(const std::function<Status(const uint8_t*, size_t)>& sink) const;

  uint32_t version_;
  uint32_t alignment_ = 32;
  uint64_t num_kvs_ = 0;
  std::vector<uint8_t> kv_bytes_;  // encoded kv pairs in insertion order
  std::vector<PendingTensor> tensors_;
};

// Little-endian encoders, exposed for tests that build malformed files by hand.
void AppendU32(std::vector<uint8_t>* out, uint32_t v);
void AppendU64(std::vector<uint8_t>* out, uint64_t v);
void AppendGgufString(std::vector<uint8_t>* out, std::string_view s);

}  // namespace hearth::model
