// Opening a file that came from outside (a model, a tokenizer, a config next to them): only a
// regular file, opened without blocking. A FIFO opened for reading would wait for a writer
// forever, and a device or directory is no model; a path holding a NUL byte would be cut short
// by the system call, so it is refused instead.
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace hearth {

// An open, blocking read-only descriptor (close it) of a regular file, and its size.
struct RegularFile {
  int fd = -1;
  size_t size = 0;
};
StatusOr<RegularFile> OpenRegularFile(const std::string& path);

// The whole file as bytes; files over `max_bytes` are refused before they are read.
StatusOr<std::string> ReadRegularFile(const std::string& path, size_t max_bytes);

}  // namespace hearth
