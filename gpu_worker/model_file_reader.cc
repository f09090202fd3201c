#include "gpu_worker/model_file_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common/regular_file.h"

namespace hearth::worker {

StatusOr<std::unique_ptr<ModelFileReader>> ModelFileReader::Open(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(RegularFile file, OpenRegularFile(path));
  if (file.size == 0) {
    ::close(file.fd);
    return Status::InvalidArgument(path + " is empty");
  }
  return std::unique_ptr<ModelFileReader>(new ModelFileReader(path, file.fd, file.size));
}

ModelFileReader::~ModelFileReader() { ::close(fd_); }

namespace {

// The test hook's delay, read once.
int ReadDelayMs() {
  static const int delay = [] {
    const char* v = std::getenv(ModelFileReader::kReadDelayEnv);
    return v ? std::max(0, std::atoi(v)) : 0;
  }();
  return delay;
}

}  // namespace

Status ModelFileReader::ReadAll(uint8_t* dst, const ReadProgress& progress, const std::atomic<bool>* stop) const {
  const int delay_ms = ReadDelayMs();
  size_t done = 0;
  while (done < size_) {
    if (stop && stop->load(std::memory_order_relaxed)) return Status::Unavailable("reading " + path_ + " was stopped");
    const ssize_t n = ::pread(fd_, dst + done, std::min(size_ - done, kReadPiece), static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IOError("cannot read " + path_ + ": " + (n < 0 ? std::strerror(errno) : "the file shrank"));
    done += static_cast<size_t>(n);
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    if (progress) progress(done, size_);
  }
  return Status::Ok();
}

}  // namespace hearth::worker
