#include "gpu_worker/model_file_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

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

Status ModelFileReader::ReadAll(uint8_t* dst, const ReadProgress& progress) const {
  size_t done = 0;
  while (done < size_) {
    const ssize_t n = ::pread(fd_, dst + done, std::min(size_ - done, kReadPiece), static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::IOError("cannot read " + path_ + ": " + (n < 0 ? std::strerror(errno) : "the file shrank"));
    done += static_cast<size_t>(n);
    if (progress) progress(done, size_);
  }
  return Status::Ok();
}

}  // namespace hearth::worker
