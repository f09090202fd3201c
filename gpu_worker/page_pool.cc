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
  std::unique_ptr<PagePool> pool(new PagePool(fd, num_pages, page_bytes));
  if (prefault) {
    // fallocate would reserve the memory too; writing it also builds the pages, so a later
    // map costs only its page-table entries.
    auto all = pool->Map(total);
    if (!all.ok()) return all.status();
    std::memset((*all)->data(), 0, total);
  }
  return pool;
}

PagePool::PagePool(int fd, int32_t num_pages, size_t page_bytes)
    : fd_(fd), num_pages_(num_pages), page_bytes_(page_bytes) {
  free_.reserve(static_cast<size_t>(num_pages));
  for (int32_t p = num_pages; p-- > 0;) free_.push_back(p);  // page 0 is taken first
}

PagePool::~PagePool() { ::close(fd_); }

StatusOr<std::unique_ptr<PagedRegion>> PagePool::Map(size_t bytes, bool populate) {
  const int32_t n = PagesFor(bytes == 0 ? 1 : bytes);
  if (n > num_free_pages()) {
    return Status::ResourceExhausted("the page pool has " + std::to_string(num_free_pages()) + " free pages of " +
                                     std::to_string(page_bytes_) + " bytes; " + std::to_string(bytes) + " bytes need " +
                                     std::to_string(n));
  }
  const size_t reserved = static_cast<size_t>(n) * page_bytes_;
  void* range = ::mmap(nullptr, reserved, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (range == MAP_FAILED) return Status::ResourceExhausted("cannot reserve " + std::to_string(reserved) + " bytes of addresses: " + Errno());
  uint8_t* base = static_cast<uint8_t*>(range);
  std::vector<int32_t> pages;
  pages.reserve(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    const int32_t page = free_.back();
    void* at = ::mmap(base + static_cast<size_t>(i) * page_bytes_, page_bytes_, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_FIXED | (populate ? MAP_POPULATE : 0), fd_, static_cast<off_t>(page) * static_cast<off_t>(page_bytes_));
    if (at == MAP_FAILED) {
      const std::string why = Errno();
      ::munmap(base, reserved);
      for (int32_t p : pages) free_.push_back(p);
      return Status::ResourceExhausted("cannot map a pool page: " + why);
    }
    free_.pop_back();
    pages.push_back(page);
  }
  return std::unique_ptr<PagedRegion>(new PagedRegion(this, base, bytes, reserved, std::move(pages)));
}

void PagePool::Release(uint8_t* base, size_t reserved, const std::vector<int32_t>& pages) {
  ::munmap(base, reserved);
  for (size_t i = pages.size(); i-- > 0;) free_.push_back(pages[i]);  // the region's first page is reused first
}

PagedRegion::~PagedRegion() { pool_->Release(base_, reserved_, pages_); }

}  // namespace hearth::worker
