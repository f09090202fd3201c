#include "gpu_worker/staged_model.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "model/gguf.h"
#include "model/tokenizer_gguf.h"

namespace hearth::worker {

StatusOr<std::unique_ptr<StagedModel>> StagedModel::Stage(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
    ::close(fd);
    return Status::InvalidArgument(path + " is not a non-empty regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* mem = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    ::close(fd);
    return Status::ResourceExhausted("cannot stage " + std::to_string(size) + " bytes of " + path);
  }
  std::unique_ptr<StagedModel> staged(new StagedModel(path, static_cast<uint8_t*>(mem), size));
  size_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, staged->data_ + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = n < 0 ? std::strerror(errno) : "the file shrank";
      ::close(fd);
      return Status::IOError("cannot read " + path + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  auto parsed = model::GgufFile::Parse(staged->data_, size);
  if (!parsed.ok()) return parsed.status().WithContext(path);
  auto tokenizer = model::LoadTokenizerFromGguf(**parsed);
  if (!tokenizer.ok()) return tokenizer.status().WithContext(path);
  staged->tokenizer_ = std::move(tokenizer).value();
  return staged;
}

StagedModel::~StagedModel() { ::munmap(data_, size_); }

}  // namespace hearth::worker
