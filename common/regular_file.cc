#include "common/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hearth {

StatusOr<RegularFile> OpenRegularFile(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("the path is empty");
  if (path.find('\0') != std::string::npos) return Status::InvalidArgument("the path holds a NUL byte");
  // O_NONBLOCK: opening a FIFO must not wait for a writer; cleared once the type is known.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::IOError("cannot stat " + path + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    const char* kind = S_ISFIFO(st.st_mode)                         ? "a FIFO"
                       : S_ISDIR(st.st_mode)                        ? "a directory"
                       : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                       : S_ISSOCK(st.st_mode)                       ? "a socket"
                                                                    : "not a regular file";
    return Status::InvalidArgument(path + " is " + kind + ", not a regular file");
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::IOError("cannot set " + path + " to blocking reads: " + std::strerror(err));
  }
  return RegularFile{fd, static_cast<size_t>(st.st_size)};
}

StatusOr<std::string> ReadRegularFile(const std::string& path, size_t max_bytes) {
  HEARTH_ASSIGN_OR_RETURN(RegularFile file, OpenRegularFile(path));
  if (file.size > max_bytes) {
    ::close(file.fd);
    return Status::InvalidArgument(path + " is " + std::to_string(file.size) + " bytes, over the limit of " +
                                   std::to_string(max_bytes));
  }
  std::string out(file.size, '\0');
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::read(file.fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(file.fd);
      return Status::IOError("cannot read " + path + ": " + (n < 0 ? std::strerror(err) : "the file shrank"));
    }
    done += static_cast<size_t>(n);
  }
  ::close(file.fd);
  return out;
}

}  // namespace hearth
