// The daemon's view of one worker's KV cache: N fixed-size blocks with reference counts, a free
// list in LRU order, and chained content hashes for automatic prefix caching. No device memory.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace hearth::scheduler {

// The parent hash of a sequence's first block.
inline constexpr uint64_t kRootBlockHash = 0x6a09e667f3bcc908ULL;

// Content hash of one full block: mixes the parent block's hash with the block's token ids, so
// equal hashes mean (with probability 1 - 2^-64 per pair) equal whole prefixes. The mixer is the
// splitmix64 finalizer applied once per token.
uint64_t HashBlockTokens(uint64_t parent_hash, std::span<const int32_t> tokens);

// Tests inject a weak hash to force collisions.
using BlockHashFn = uint64_t (*)(uint64_t parent_hash, std::span<const int32_t> tokens);

// Blocks of a prompt's prefix that are already in the cache.
struct CachedPrefix {
  std::vector<int32_t> blocks;          // [num_hit_blocks] in prefix order
  uint64_t last_hash = kRootBlockHash;  // hash of the last hit block (root when none)
};

struct BlockPoolStats {
  // Lookups as CountLookup records them: one per admission, not per FindCachedPrefix call (an
  // admission put off for room looks up again at the next step).
  int64_t num_queries = 0;
  int64_t num_query_blocks = 0;  // full blocks looked up
  int64_t num_hit_blocks = 0;    // of those, found in the cache
  int64_t num_collisions = 0;    // hash matched but the stored tokens did not (or MarkFull clash)
  int64_t num_evictions = 0;     // cached blocks reused for new content
};

// A block is in exactly one of two states: in use (ref_count > 0) or on the free list
// (ref_count == 0). A free block may still be cached (it has a registered hash and its tokens);
// it stays findable until Allocate() takes it from the head of the free list.
//
// Free-list order: freed uncached blocks go to the head (they hold nothing worth keeping), freed
// cached blocks to the tail, so cached blocks are evicted least recently freed first. Free()
// walks a block table backwards, so a sequence's tail is evicted before its head (the head is the
// part other prompts are likeliest to share).
//
// Collisions: a hit is trusted only when the stored block's parent hash and token ids equal the
// query's; a 64-bit collision between two different parent chains with identical last blocks
// remains undetected (probability ~2^-64 per pair of prefixes).
class BlockPool {
 public:
  BlockPool(int32_t num_blocks, int32_t block_size, BlockHashFn hash = &HashBlockTokens);

  int32_t num_blocks() const { return static_cast<int32_t>(meta_.size()); }
  int32_t block_size() const { return block_size_; }
  int32_t num_free() const { return num_free_; }  // allocatable, cached ones included
  int32_t num_cached() const { return static_cast<int32_t>(cached_.size()); }
  int32_t ref_count(int32_t block) const { return meta_[Index(block)].ref_count; }
  bool is_cached(int32_t block) const { return meta_[Index(block)].cached; }
  const BlockPoolStats& stats() const { return stats_; }

  bool CanAllocate(int32_t n) const { return n <= num_free_; }

  // n fresh blocks with ref_count 1, taken from the head of the free list (evicting cached
  // ones); nullopt when fewer than n are free, and then nothing changes.
  std::optional<std::vector<int32_t>> Allocate(int32_t n);

  // Drops one reference from each block, last block first; a block reaching 0 joins the free list.
  void Free(std::span<const int32_t> blocks);

  // The longest run of cached full blocks matching the first full blocks of `tokens`. Each hit
  // gains a reference (and leaves the free list if it was there); release them with Free().
  CachedPrefix FindCachedPrefix(std::span<const int32_t> tokens);
  // Counts one lookup that was used: `query_blocks` full blocks looked up, `hit_blocks` found.
  void CountLookup(int64_t query_blocks, int64_t hit_blocks);

  // Registers a full, computed block (`tokens` has block_size ids) under
  // hash(parent_hash, tokens) and returns that hash, which chains to the next block.
  // If another block already holds that hash, the cache keeps the older one.
  uint64_t MarkFull(int32_t block, uint64_t parent_hash, std::span<const int32_t> tokens);

  // Walks every structure and CHECKs that they agree; O(num_blocks), for tests.
  void CheckConsistency() const;

  // Free-list order from head (next to evict) to tail; for tests.
  std::vector<int32_t> FreeListForTest() const;

 private:
  struct BlockMeta {
    int32_t ref_count = 0;
    int32_t prev = -1;  // free-list links; -1 at the ends
    int32_t next = -1;
    bool on_free_list = false;
    bool cached = false;  // registered in cached_ under `hash`
    uint64_t hash = 0;
    uint64_t parent_hash = 0;
  };

  size_t Index(int32_t block) const;
  std::span<const int32_t> StoredTokens(int32_t block) const;
  bool Matches(int32_t block, uint64_t parent_hash, std::span<const int32_t> tokens) const;
  void PushFront(int32_t block);
  void PushBack(int32_t block);
  void Unlink(int32_t block);
  void Evict(int32_t block);

  // Constant after construction.
  const int32_t block_size_;
  const BlockHashFn hash_;

  std::vector<BlockMeta> meta_;                   // [num_blocks]
  std::vector<int32_t> tokens_;                   // [num_blocks * block_size] ids of cached blocks
  std::unordered_map<uint64_t, int32_t> cached_;  // block hash -> block id
  int32_t head_ = -1;
  int32_t tail_ = -1;
  int32_t num_free_ = 0;
  BlockPoolStats stats_;
};

}  // namespace hearth::scheduler
