#include "gpu_worker/page_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace hearth::worker {
namespace {

std::string Errno() { return std::strerror(errno); }

// Anonymous memory for `bytes` starting at a multiple of `align` (a power of two), so that
// transparent huge pages can back it; the slack around it is unmapped again.
uint8_t* MapAligned(size_t bytes, size_t align, int prot) {
  void* raw = ::mmap(nullptr, bytes + align, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + align - 1) & ~(uintptr_t{align} - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  if (const size_t tail = start + bytes + align - (aligned + bytes); tail > 0) {
    ::munmap(reinterpret_cast<void*>(aligned + bytes), tail);
  }
  return reinterpret_cast<uint8_t*>(aligned);
}

// The alignment that lets huge pages back a run of pool pages.
size_t HugeAlign(size_t page_bytes) {
  constexpr size_t kHuge = 2u << 20;
  return page_bytes % kHuge == 0 ? kHuge : static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

// Moves the memory of [from, +bytes) to `to` (whose old mapping goes), contents and all.
bool Move(uint8_t* from, uint8_t* to, size_t bytes) {
  return ::mremap(from, bytes, bytes, MREMAP_MAYMOVE | MREMAP_FIXED, to) != MAP_FAILED;
}

// Holds the addresses [at, +bytes) with an inaccessible mapping of no memory. A page moved out
// of the arena leaves a hole in its addresses: without this, the next mmap anywhere in the
// process (a remapped region's range, a staged copy) could land in the hole, and moving the
// page back would map it over whatever is there.
bool Hold(uint8_t* at, size_t bytes) {
  return ::mmap(at, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) != MAP_FAILED;
}

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
  uint8_t* arena = MapAligned(total, HugeAlign(page_bytes), PROT_READ | PROT_WRITE);
  if (!arena) return Status::ResourceExhausted("cannot map a page pool of " + std::to_string(total) + " bytes: " + Errno());
  // Huge pages where the kernel has them for anonymous memory (THP "always" or "madvise"):
  // fewer TLB misses for the weights, read whole at every step. Best effort.
  (void)::madvise(arena, total, MADV_HUGEPAGE);
  // Writing every page makes it now, so a later region costs only its copy.
  if (prefault) std::memset(arena, 0, total);
  return std::unique_ptr<PagePool>(new PagePool(arena, num_pages, page_bytes, prefault));
}

PagePool::PagePool(uint8_t* arena, int32_t num_pages, size_t page_bytes, bool prefaulted)
    : arena_(arena),
      num_pages_(num_pages),
      page_bytes_(page_bytes),
      prefaulted_(prefaulted),
      used_(static_cast<size_t>(num_pages), false),
      num_free_(num_pages) {}

PagePool::~PagePool() { ::munmap(arena_, static_cast<size_t>(num_pages_) * page_bytes_); }

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
  return std::unique_ptr<PagedRegion>(new PagedRegion(this, base, bytes, reserved, std::move(pages), true));
}

StatusOr<std::unique_ptr<PagedRegion>> PagePool::Remap(size_t bytes, int32_t n, bool populate) {
  const size_t reserved = static_cast<size_t>(n) * page_bytes_;
  uint8_t* base = MapAligned(reserved, HugeAlign(page_bytes_), PROT_NONE);
  if (!base) return Status::ResourceExhausted("cannot reserve " + std::to_string(reserved) + " bytes of addresses: " + Errno());
  // The lowest free pages move (their memory, not a copy) into the range, side by side.
  std::vector<int32_t> pages;
  pages.reserve(static_cast<size_t>(n));
  for (int32_t page = 0; page < num_pages_ && static_cast<int32_t>(pages.size()) < n; ++page) {
    if (used_[static_cast<size_t>(page)]) continue;
    uint8_t* const at = arena_ + static_cast<size_t>(page) * page_bytes_;
    uint8_t* const to = base + pages.size() * page_bytes_;
    const bool moved = Move(at, to, page_bytes_);
    if (!moved || !Hold(at, page_bytes_)) {
      const std::string why = Errno();
      if (moved) (void)Move(to, at, page_bytes_);
      for (size_t i = 0; i < pages.size(); ++i) {  // put back what moved
        (void)Move(base + i * page_bytes_, arena_ + static_cast<size_t>(pages[i]) * page_bytes_, page_bytes_);
      }
      ::munmap(base, reserved);
      return Status::ResourceExhausted("cannot map a pool page: " + why);
    }
    pages.push_back(page);
  }
  for (int32_t p : pages) used_[static_cast<size_t>(p)] = true;
  num_free_ -= n;
#ifdef MADV_POPULATE_WRITE
  if (populate && !prefaulted_) (void)::madvise(base, reserved, MADV_POPULATE_WRITE);  // best effort
#endif
  return std::unique_ptr<PagedRegion>(new PagedRegion(this, base, bytes, reserved, std::move(pages), false));
}

void PagePool::Release(const PagedRegion& region) {
  if (!region.in_arena_) {
    // Back to their places in the arena, over the mappings that held them (a move cannot fail
    // for a range that was moved out).
    for (size_t i = 0; i < region.pages_.size(); ++i) {
      (void)Move(region.base_ + i * page_bytes_, arena_ + static_cast<size_t>(region.pages_[i]) * page_bytes_,
                 page_bytes_);
    }
  }
  for (int32_t p : region.pages_) used_[static_cast<size_t>(p)] = false;
  num_free_ += static_cast<int32_t>(region.pages_.size());
}

PagedRegion::~PagedRegion() { pool_->Release(*this); }

}  // namespace hearth::worker
