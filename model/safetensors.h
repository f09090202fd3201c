// Reader for Hugging Face safetensors files: an 8-byte little-endian header length, a
// JSON header naming each tensor's dtype, shape and byte range, then the raw data.
// Files are untrusted; every field is checked and the data ranges must tile the data
// section exactly.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace hearth::model {

enum class SafetensorsDtype {
  kBool, kU8, kI8, kU16, kI16, kF16, kBF16, kU32, kI32, kF32, kU64, kI64, kF64,
  kF8_E4M3, kF8_E5M2,
};

const char* SafetensorsDtypeName(SafetensorsDtype dtype);  // "F32", "BF16", ...
uint32_t SafetensorsDtypeSize(SafetensorsDtype dtype);      // bytes per element

struct SafetensorsTensorInfo {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::kF32;
  std::vector<uint64_t> shape;  // row-major: shape.back() is the fastest-varying
  uint64_t num_elements = 0;    // product of shape (1 for a scalar)
  uint64_t num_bytes = 0;
  uint64_t offset = 0;            // from the start of the data section
  const uint8_t* data = nullptr;  // into the mapping: [num_bytes]
};

class SafetensorsFile {
 public:
  static constexpr uint64_t kMaxHeaderBytes = 100u << 20;

  // Maps the file read-only; the mapping lives as long as the object.
  static StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  // Parses an in-memory file without copying; the caller keeps `data` alive.
  static StatusOr<std::unique_ptr<SafetensorsFile>> Parse(const uint8_t* data, size_t size);

  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::vector<SafetensorsTensorInfo>& tensors() const { return tensors_; }  // file order
  const SafetensorsTensorInfo* FindTensor(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }  // __metadata__

 private:
  SafetensorsFile() = default;
  Status ParseHeader(std::string_view json, uint64_t data_size);

  // Constant after construction.
  const uint8_t* base_ = nullptr;  // [size_]
  size_t size_ = 0;
  void* mapping_ = nullptr;
  std::vector<SafetensorsTensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> index_;  // views into tensors_ names
  std::map<std::string, std::string> metadata_;
};

// A model directory: `model.safetensors`, or shards listed by
// `model.safetensors.index.json` ({"weight_map": {tensor: shard file}}).
class SafetensorsModel {
 public:
  static StatusOr<std::unique_ptr<SafetensorsModel>> Open(const std::string& dir);

  const SafetensorsTensorInfo* FindTensor(std::string_view name) const;
  // Every tensor of every shard.
  std::vector<const SafetensorsTensorInfo*> tensors() const;
  size_t num_shards() const { return shards_.size(); }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
};

}  // namespace hearth::model
