// Reads a model file into memory the worker owns (a staged host copy, or pool pages) in pieces,
// reporting the bytes read after each: the daemon shows them as a load's or a stage's progress.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace hearth::worker {

// Bytes read so far, of the file's total.
using ReadProgress = std::function<void(uint64_t done, uint64_t total)>;

class ModelFileReader {
 public:
  static constexpr size_t kReadPiece = 16u << 20;
  // Test hook (docs/testing.md): milliseconds to sleep after each piece, to make loads slow.
  static constexpr const char* kReadDelayEnv = "HEARTH_TEST_READ_DELAY_MS";

  // Opens `path`: a non-empty regular file (InvalidArgument otherwise, IOError when it cannot
  // be opened).
  static StatusOr<std::unique_ptr<ModelFileReader>> Open(const std::string& path);
  ~ModelFileReader();
  ModelFileReader(const ModelFileReader&) = delete;
  ModelFileReader& operator=(const ModelFileReader&) = delete;

  size_t size() const { return size_; }
  // Reads the whole file into `dst` ([size()] bytes). `progress` may be empty. `stop` (may be
  // null) is checked before each piece: once it is set the read ends Unavailable.
  Status ReadAll(uint8_t* dst, const ReadProgress& progress, const std::atomic<bool>* stop = nullptr) const;

 private:
  ModelFileReader(std::string path, int fd, size_t size) : path_(std::move(path)), fd_(fd), size_(size) {}

  const std::string path_;
  const int fd_;
  const size_t size_;
};

}  // namespace hearth::worker
