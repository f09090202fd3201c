// KV block pool: reference counts, an intrusive LRU free list and the prefix-cache hash map.
#include "scheduler/block_pool.h"

#include <algorithm>

#include "common/check.h"

namespace hearth::scheduler {
namespace {

// splitmix64's output function (Steele, Lea and Flood): a bijection on 64 bits with good
// avalanche, so chaining it per token spreads every input bit over the whole hash.
uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

}  // namespace

uint64_t HashBlockTokens(uint64_t parent_hash, std::span<const int32_t> tokens) {
  uint64_t h = Mix64(parent_hash ^ (kGolden * (tokens.size() + 1)));
  for (int32_t t : tokens) h = Mix64(h + kGolden + static_cast<uint32_t>(t));
  return h;
}

BlockPool::BlockPool(int32_t num_blocks, int32_t block_size, BlockHashFn hash)
    : block_size_(block_size),
      hash_(hash),
      meta_(static_cast<size_t>(num_blocks)),
      tokens_(static_cast<size_t>(num_blocks) * static_cast<size_t>(block_size), -1) {
  CHECK_GT(num_blocks, 0);
  CHECK_GT(block_size, 0);
  for (int32_t b = 0; b < num_blocks; ++b) PushBack(b);
}

size_t BlockPool::Index(int32_t block) const {
  CHECK(block >= 0 && static_cast<size_t>(block) < meta_.size()) << "bad block id " << block;
  return static_cast<size_t>(block);
}

std::span<const int32_t> BlockPool::StoredTokens(int32_t block) const {
  return std::span<const int32_t>(tokens_).subspan(Index(block) * static_cast<size_t>(block_size_),
                                                   static_cast<size_t>(block_size_));
}

bool BlockPool::Matches(int32_t block, uint64_t parent_hash, std::span<const int32_t> tokens) const {
  std::span<const int32_t> stored = StoredTokens(block);
  return meta_[Index(block)].parent_hash == parent_hash &&
         std::equal(stored.begin(), stored.end(), tokens.begin(), tokens.end());
}

void BlockPool::PushFront(int32_t block) {
  BlockMeta& m = meta_[Index(block)];
  CHECK(!m.on_free_list);
  m.prev = -1;
  m.next = head_;
  if (head_ >= 0) meta_[Index(head_)].prev = block;
  head_ = block;
  if (tail_ < 0) tail_ = block;
  m.on_free_list = true;
  ++num_free_;
}

void BlockPool::PushBack(int32_t block) {
  BlockMeta& m = meta_[Index(block)];
  CHECK(!m.on_free_list);
  m.prev = tail_;
  m.next = -1;
  if (tail_ >= 0) meta_[Index(tail_)].next = block;
  tail_ = block;
  if (head_ < 0) head_ = block;
  m.on_free_list = true;
  ++num_free_;
}

void BlockPool::Unlink(int32_t block) {
  BlockMeta& m = meta_[Index(block)];
  CHECK(m.on_free_list);
  if (m.prev >= 0)
    meta_[Index(m.prev)].next = m.next;
  else
    head_ = m.next;
  if (m.next >= 0)
    meta_[Index(m.next)].prev = m.prev;
  else
    tail_ = m.prev;
  m.prev = m.next = -1;
  m.on_free_list = false;
  --num_free_;
}

void BlockPool::Evict(int32_t block) {
  BlockMeta& m = meta_[Index(block)];
  if (!m.cached) return;
  auto it = cached_.find(m.hash);
  CHECK(it != cached_.end() && it->second == block);
  cached_.erase(it);
  m.cached = false;
  ++stats_.num_evictions;
}

std::optional<std::vector<int32_t>> BlockPool::Allocate(int32_t n) {
  CHECK_GE(n, 0);
  if (!CanAllocate(n)) return std::nullopt;
  std::vector<int32_t> blocks;
  blocks.reserve(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    int32_t b = head_;
    Unlink(b);
    Evict(b);
    meta_[Index(b)].ref_count = 1;
    blocks.push_back(b);
  }
  return blocks;
}

void BlockPool::Free(std::span<const int32_t> blocks) {
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    BlockMeta& m = meta_[Index(*it)];
    CHECK_GT(m.ref_count, 0) << "double free of block " << *it;
    if (--m.ref_count > 0) continue;
    if (m.cached) {
      PushBack(*it);
    } else {
      PushFront(*it);
    }
  }
}

void BlockPool::CountLookup(int64_t query_blocks, int64_t hit_blocks) {
  ++stats_.num_queries;
  stats_.num_query_blocks += query_blocks;
  stats_.num_hit_blocks += hit_blocks;
}

CachedPrefix BlockPool::FindCachedPrefix(std::span<const int32_t> tokens) {
  CachedPrefix prefix;
  const size_t bs = static_cast<size_t>(block_size_);
  const size_t num_full = tokens.size() / bs;
  for (size_t i = 0; i < num_full; ++i) {
    std::span<const int32_t> block_tokens = tokens.subspan(i * bs, bs);
    uint64_t h = hash_(prefix.last_hash, block_tokens);
    auto it = cached_.find(h);
    if (it == cached_.end()) break;
    if (!Matches(it->second, prefix.last_hash, block_tokens)) {
      ++stats_.num_collisions;
      break;
    }
    prefix.blocks.push_back(it->second);
    prefix.last_hash = h;
  }
  for (int32_t b : prefix.blocks) {
    BlockMeta& m = meta_[Index(b)];
    if (m.ref_count == 0) Unlink(b);
    ++m.ref_count;
  }
  return prefix;
}

uint64_t BlockPool::MarkFull(int32_t block, uint64_t parent_hash, std::span<const int32_t> tokens) {
  CHECK_EQ(tokens.size(), static_cast<size_t>(block_size_));
  BlockMeta& m = meta_[Index(block)];
  CHECK_GT(m.ref_count, 0) << "MarkFull on free block " << block;
  const uint64_t h = hash_(parent_hash, tokens);
  if (m.cached) {
    CHECK(m.hash == h && Matches(block, parent_hash, tokens)) << "block " << block << " re-marked with new content";
    return h;
  }
  auto [it, inserted] = cached_.try_emplace(h, block);
  if (!inserted) {
    // Another sequence computed the same block first (or, rarely, a collision): keep that one.
    if (!Matches(it->second, parent_hash, tokens)) ++stats_.num_collisions;
    return h;
  }
  m.cached = true;
  m.hash = h;
  m.parent_hash = parent_hash;
  std::copy(tokens.begin(), tokens.end(), tokens_.begin() + static_cast<std::ptrdiff_t>(Index(block) * tokens.size()));
  return h;
}

void BlockPool::CheckConsistency() const {
  int32_t count = 0;
  int32_t prev = -1;
  for (int32_t b = head_; b >= 0; b = meta_[Index(b)].next) {
    const BlockMeta& m = meta_[Index(b)];
    CHECK(m.on_free_list) << "block " << b;
    CHECK_EQ(m.ref_count, 0) << "block " << b;
    CHECK_EQ(m.prev, prev) << "block " << b;
    prev = b;
    ++count;
    CHECK_LE(count, num_blocks()) << "free list has a cycle";
  }
  CHECK_EQ(prev, tail_);
  CHECK_EQ(count, num_free_);
  int32_t num_cached_meta = 0;
  for (int32_t b = 0; b < num_blocks(); ++b) {
    const BlockMeta& m = meta_[Index(b)];
    CHECK_EQ(m.on_free_list, m.ref_count == 0) << "block " << b;
    if (!m.cached) continue;
    ++num_cached_meta;
    auto it = cached_.find(m.hash);
    CHECK(it != cached_.end() && it->second == b) << "block " << b;
    CHECK_EQ(hash_(m.parent_hash, StoredTokens(b)), m.hash) << "block " << b;
  }
  CHECK_EQ(num_cached_meta, num_cached());
}

std::vector<int32_t> BlockPool::FreeListForTest() const {
  std::vector<int32_t> order;
  for (int32_t b = head_; b >= 0; b = meta_[Index(b)].next) order.push_back(b);
  return order;
}

}  // namespace hearth::scheduler
