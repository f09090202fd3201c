// One memory pool per device, in fixed-size pages (DESIGN.md, "Universal workers"): the pool's
// memory is allocated once, when the worker starts, and a model's weights (and KV blocks) are
// placed by mapping free pages into a contiguous range of addresses. Swapping a model out
// unmaps its pages and gives them back; nothing is freed or allocated while serving.
//
// This is the host-memory pool the CPU worker uses: one range of anonymous memory (the arena),
// aligned for transparent huge pages and advised to use them. A region whose pages are free
// side by side is that run of the arena: no mapping changes, and its page-table entries already
// exist. Otherwise (a fragmented pool) the free pages' memory is moved (mremap, no copy) into a
// new range of addresses, side by side, and moved back when the region goes, so the kernels see
// one contiguous buffer whichever pages back it. CUDA's virtual memory management (cuMemCreate,
// cuMemMap) is the same shape on the GPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/status.h"

namespace hearth::worker {

class PagePool;

// A contiguous range of pool pages, mapped for reading and writing. Gives its pages back to
// the pool when destroyed; must not outlive the pool.
class PagedRegion {
 public:
  ~PagedRegion();
  PagedRegion(const PagedRegion&) = delete;
  PagedRegion& operator=(const PagedRegion&) = delete;

  uint8_t* data() const { return base_; }
  size_t size() const { return size_; }  // the bytes asked for
  const std::vector<int32_t>& pages() const { return pages_; }
  bool remapped() const { return !in_arena_; }  // its pages moved to a range of their own

 private:
  friend class PagePool;
  PagedRegion(PagePool* pool, uint8_t* base, size_t size, size_t reserved, std::vector<int32_t> pages, bool in_arena)
      : pool_(pool), base_(base), size_(size), reserved_(reserved), pages_(std::move(pages)), in_arena_(in_arena) {}

  PagePool* const pool_;
  uint8_t* const base_;
  const size_t size_;
  const size_t reserved_;  // whole pages
  const std::vector<int32_t> pages_;
  const bool in_arena_;
};

class PagePool {
 public:
  // A pool of `num_pages` pages of `page_bytes` each (a multiple of the system page size).
  // `prefault`: touch every page now, so that the first map does not pay for page faults
  // (what a device pool allocated at start gives for free).
  static StatusOr<std::unique_ptr<PagePool>> Create(int32_t num_pages, size_t page_bytes, bool prefault = true);
  ~PagePool();
  PagePool(const PagePool&) = delete;
  PagePool& operator=(const PagePool&) = delete;

  // Enough free pages for `bytes` as one contiguous range: the first run of free pages side by
  // side in the arena, else the lowest free pages mapped into a new range. ResourceExhausted
  // when too few pages are free (and then nothing changes). `populate`, for a new range or a
  // pool that was not prefaulted: build the page-table entries now (weights, about to be copied
  // in whole); else on first touch (a KV cache, of which a step touches only the blocks in use).
  StatusOr<std::unique_ptr<PagedRegion>> Map(size_t bytes, bool populate = true);

  size_t page_bytes() const { return page_bytes_; }
  int32_t num_pages() const { return num_pages_; }
  int32_t num_free_pages() const { return num_free_; }
  int32_t PagesFor(size_t bytes) const { return static_cast<int32_t>((bytes + page_bytes_ - 1) / page_bytes_); }

 private:
  friend class PagedRegion;
  PagePool(uint8_t* arena, int32_t num_pages, size_t page_bytes, bool prefaulted);
  // The first index of `n` free pages side by side, or -1.
  int32_t FindRun(int32_t n) const;
  StatusOr<std::unique_ptr<PagedRegion>> Remap(size_t bytes, int32_t n, bool populate);
  void Release(const PagedRegion& region);

  uint8_t* const arena_;  // all of the pool's memory, mapped once
  const int32_t num_pages_;
  const size_t page_bytes_;
  const bool prefaulted_;
  std::vector<bool> used_;  // [num_pages]
  int32_t num_free_ = 0;
};

}  // namespace hearth::worker
