// Writes safetensors files (used by tools and tests). Tensor data is produced lazily at
// write time so tools can write models larger than memory one tensor at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/safetensors.h"

namespace hearth::model {

class SafetensorsWriter {
 public:
  using Producer = std::function<StatusOr<std::vector<uint8_t>>()>;

  void SetMetadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  // `shape` is row-major; the data must be product(shape) * dtype size bytes.
  void AddTensor(const std::string& name, SafetensorsDtype dtype, std::vector<uint64_t> shape,
                 std::vector<uint8_t> data);
  void AddTensor(const std::string& name, SafetensorsDtype dtype, std::vector<uint64_t> shape,
                 Producer producer);

  StatusOr<std::vector<uint8_t>> Serialize() const;
  Status WriteFile(const std::string& path) const;

 private:
  struct Pending {
    std::string name;
    SafetensorsDtype dtype;
    std::vector<uint64_t> shape;
    uint64_t num_bytes;
    Producer producer;
  };
  std::string HeaderJson() const;  // padded with spaces to a multiple of 8 bytes
  Status EmitAll(const std::function<Status(const uint8_t*, size_t)>& sink) const;

  std::map<std::string, std::string> metadata_;
  std::vector<Pending> tensors_;
};

}  // namespace hearth::model
