#include "gpu_worker/page_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace hearth::worker {
namespace {

std::string Errno() { return std::strerror(errno); }

}  // namespace

StatusOr<std::unique_ptr<PagePool>> PagePool::Create(int32_t num_pages, size_t page_bytes, bool prefault) {
  const long system_page = ::sysconf(_SC_PAGESIZE);
  if (num_pages < 1) return Status::InvalidArgument("a page pool needs at least one page");
  if (page_bytes == 0 || system_page <= 0 || page_bytes % static_cast<size_t>(system_page) != 0) {
    return Status::InvalidArgument("page size " + std::to_string(page_bytes) + " is not a multiple of " +
                                   std::to_string(system_page));
  }
  const size_t total = static_cast<size_t>(num_pages) * page_bytes;
  if (total / page_bytes != static_cast<size_t>(num_pages)) return Status::InvalidArgument("page pool too large");
  const int fd = ::memfd_create("hearth-page-pool", MFD_CLOEXEC);
  if (fd < 0) return Status::IOError("memfd_create: " + Errno());
  if (::ftruncate(fd, static_cast<off_t>(total)) != 0) {
    const std::string why = Errno();
    ::close(fd);
    return Status::ResourceExhausted("cannot size a page pool of " + std::to_string(total) + " bytes: " + why);
  }
  void* arena = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED | (prefault ? MAP_POPULATE : 0), fd, 0);
  if (arena == MAP_FAILED) {
    const std::string why = Errno();
    ::close(fd);
    return Status::ResourceExhausted("cannot map a page pool of " + std::to_string(total) + " bytes: " + why);
  }
  // Writing every page builds it now (fallocate would only reserve it), so a later region
  // costs only its copy.
  if (prefault) std::memset(arena, 0, total);
  return std::unique_ptr<PagePool>(new PagePool(fd, static_cast<uint8_t*>(arena), num_pages, page_bytes, prefault));
}

PagePool::PagePool(int fd, uint8_t* arena, int32_t num_pages, size_t page_bytes, bool prefaulted)
    : fd_(fd),
      arena_(arena),
      num_pages_(num_pages),
      page_bytes_(page_bytes),
      prefaulted_(prefaulted),
      used_(static_cast<size_t>(num_pages), false),
      num_free_(num_pages) {}

PagePool::~PagePool() {
  ::munmap(arena_, static_cast<size_t>(num_pages_) * page_bytes_);
  ::close(fd_);
}

int32_t PagePool::FindRun(int32_t n) const {
  int32_t run = 0;
  for (int32_t p = 0; p < num_pages_; ++p) {
    run = used_[static_cast<size_t>(p)] ? 0 : run + 1;
    if (run == n) return p - n + 1;
  }
  return -1;
}

StatusOr<std::unique_ptr<PagedRegion>> PagePool::Map(size_t bytes, bool populate) {
  const int32_t n = PagesFor(bytes == 0 ? 1 : bytes);
  if (n > num_free_pages()) {
    return Status::ResourceExhausted("the page pool has " + std::to_string(num_free_pages()) + " free pages of " +
                                     std::to_string(page_bytes_) + " bytes; " + std::to_string(bytes) + " bytes need " +
                                     std::to_string(n));
  }
  const int32_t first = FindRun(n);
  if (first < 0) return Remap(bytes, n, populate);
  std::vector<int32_t> pages;
  pages.reserve(static_cast<size_t>(n));
  for (int32_t p = first; p < first + n; ++p) {
    used_[static_cast<size_t>(p)] = true;
    pages.push_back(p);
  }
  num_free_ -= n;
  const size_t reserved = static_cast<size_t>(n) * page_bytes_;
  uint8_t* base = arena_ + static_cast<size_t>(first) * page_bytes_;
#ifdef MADV_POPULATE_WRITE
  if (populate && !prefaulted_) (void)::madvise(base, reserved, MADV_POPULATE_WRITE);  // best effort
#endif
  return std::unique_ptr<PagedRegion>(new PagedRegion(this, base, bytes, reserved, std::move(pages), false));
}

StatusOr<std::unique_ptr<PagedRegion>> PagePool::Remap(size_t bytes, int32_t n, bool populate) {
  const size_t reserved = static_cast<size_t>(n) * page_bytes_;
  void* range = ::mmap(nullptr, reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (range == MAP_FAILED) return Status::ResourceExhausted("cannot reserve " + std::to_string(reserved) + " bytes of addresses: " + Errno());
  uint8_t* base = static_cast<uint8_t*>(range);
  std::vector<int32_t> pages;
  pages.reserve(static_cast<size_t>(n));
  for (int32_t page = 0; page < num_pages_ && static_cast<int32_t>(pages.size()) < n; ++page) {
    if (used_[static_cast<size_t>(page)]) continue;
    void* at = ::mmap(base + pages.size() * page_bytes_, page_bytes_, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_FIXED | (populate ? MAP_POPULATE : 0), fd_,
                      static_cast<off_t>(page) * static_cast<off_t>(page_bytes_));
    if (at == MAP_FAILED) {
      const std::string why = Errno();
      ::munmap(base, reserved);
      return Status::ResourceExhausted("cannot map a pool page: " + why);
    }
    pages.push_back(page);
  }
  for (int32_t p : pages) used_[static_cast<size_t>(p)] = true;
  num_free_ -= n;
  return std::unique_ptr<PagedRegion>(new PagedRegion(this, base, bytes, reserved, std::move(pages), true));
}

void PagePool::Release(const PagedRegion& region) {
  if (region.remapped_) ::munmap(region.base_, region.reserved_);
  for (int32_t p : region.pages_) used_[static_cast<size_t>(p)] = false;
  num_free_ += static_cast<int32_t>(region.pages_.size());
}

PagedRegion::~PagedRegion() { pool_->Release(*this); }

}  // namespace hearth::worker
