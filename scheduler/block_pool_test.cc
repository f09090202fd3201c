#include "scheduler/block_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

namespace hearth::scheduler {
namespace {

constexpr int32_t kBs = 4;

std::vector<int32_t> Range(int32_t first, int32_t n) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), first);
  return v;
}

// Registers `blocks` as the chained full blocks of `tokens`; returns the last hash.
uint64_t MarkChain(BlockPool& pool, const std::vector<int32_t>& blocks, const std::vector<int32_t>& tokens) {
  uint64_t h = kRootBlockHash;
  for (size_t i = 0; i < blocks.size(); ++i) {
    h = pool.MarkFull(blocks[i], h, std::span<const int32_t>(tokens).subspan(i * kBs, kBs));
  }
  return h;
}

TEST(BlockPoolTest, AllocateUntilEmptyThenFree) {
  BlockPool pool(8, kBs);
  EXPECT_EQ(pool.num_free(), 8);
  EXPECT_TRUE(pool.CanAllocate(8));
  EXPECT_FALSE(pool.CanAllocate(9));
  auto a = pool.Allocate(5);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(*a, Range(0, 5));
  for (int32_t b : *a) EXPECT_EQ(pool.ref_count(b), 1);
  EXPECT_EQ(pool.num_free(), 3);
  EXPECT_FALSE(pool.Allocate(4).has_value());
  EXPECT_EQ(pool.num_free(), 3);  // a failed allocation changes nothing
  auto b = pool.Allocate(3);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(pool.num_free(), 0);
  EXPECT_TRUE(pool.Allocate(0).has_value());
  pool.Free(*a);
  pool.Free(*b);
  EXPECT_EQ(pool.num_free(), 8);
  pool.CheckConsistency();
}

TEST(BlockPoolTest, FreeIsReverseOrderAndCachedBlocksGoToTheTail) {
  BlockPool pool(6, kBs);
  auto seq = *pool.Allocate(4);  // blocks 0..3; 4 and 5 stay free
  const std::vector<int32_t> tokens = Range(100, 3 * kBs + 1);
  MarkChain(pool, {seq[0], seq[1], seq[2]}, tokens);  // block 3 is partial
  EXPECT_EQ(pool.num_cached(), 3);
  pool.Free(seq);
  // The uncached partial block goes to the head, cached ones to the tail, the sequence's tail
  // first: so the last block of the sequence is evicted before its first.
  EXPECT_EQ(pool.FreeListForTest(), (std::vector<int32_t>{3, 4, 5, 2, 1, 0}));
  auto first = *pool.Allocate(4);
  EXPECT_EQ(first, (std::vector<int32_t>{3, 4, 5, 2}));
  EXPECT_EQ(pool.num_cached(), 2);  // block 2 was evicted
  EXPECT_EQ(pool.stats().num_evictions, 1);
  pool.CheckConsistency();
}

TEST(BlockPoolTest, EvictsLeastRecentlyFreedFirst) {
  BlockPool pool(4, kBs);
  auto a = *pool.Allocate(2);
  auto b = *pool.Allocate(2);
  MarkChain(pool, a, Range(0, 2 * kBs));
  MarkChain(pool, b, Range(50, 2 * kBs));
  pool.Free(b);  // b freed first: older
  pool.Free(a);
  EXPECT_EQ(pool.FreeListForTest(), (std::vector<int32_t>{b[1], b[0], a[1], a[0]}));
  // Touching b's prefix takes it off the list; freeing it again makes it the newest.
  auto hit = pool.FindCachedPrefix(Range(50, 2 * kBs));
  EXPECT_EQ(hit.blocks, b);
  EXPECT_EQ(pool.FreeListForTest(), (std::vector<int32_t>{a[1], a[0]}));
  pool.Free(hit.blocks);
  EXPECT_EQ(pool.FreeListForTest(), (std::vector<int32_t>{a[1], a[0], b[1], b[0]}));
  pool.CheckConsistency();
}

TEST(BlockPoolTest, FindCachedPrefixReturnsTheLongestMatchingRun) {
  BlockPool pool(8, kBs);
  const std::vector<int32_t> tokens = Range(10, 3 * kBs);
  auto blocks = *pool.Allocate(3);
  const uint64_t last = MarkChain(pool, blocks, tokens);
  pool.Free(blocks);

  // Same prefix plus a partial block: all three full blocks hit.
  std::vector<int32_t> longer = tokens;
  longer.push_back(7);
  CachedPrefix hit = pool.FindCachedPrefix(longer);
  EXPECT_EQ(hit.blocks, blocks);
  EXPECT_EQ(hit.last_hash, last);
  for (int32_t b : blocks) EXPECT_EQ(pool.ref_count(b), 1);
  EXPECT_EQ(pool.num_free(), 5);
  pool.Free(hit.blocks);

  // Diverging inside the second block: only the first hits.
  std::vector<int32_t> diverged = tokens;
  diverged[kBs + 2] = 999;
  hit = pool.FindCachedPrefix(diverged);
  EXPECT_EQ(hit.blocks, std::vector<int32_t>{blocks[0]});
  pool.Free(hit.blocks);

  // The same second block under a different first block: no hit at all (hashes chain).
  std::vector<int32_t> other_parent = tokens;
  other_parent[0] = 999;
  hit = pool.FindCachedPrefix(other_parent);
  EXPECT_TRUE(hit.blocks.empty());
  EXPECT_EQ(hit.last_hash, kRootBlockHash);

  // Fewer tokens than a block: nothing to look up.
  hit = pool.FindCachedPrefix(std::span<const int32_t>(tokens).first(kBs - 1));
  EXPECT_TRUE(hit.blocks.empty());

  EXPECT_EQ(pool.stats().num_queries, 0) << "a lookup counts when its admission records it";
  EXPECT_EQ(pool.stats().num_hit_blocks, 0);
  pool.CountLookup(3, 1);
  EXPECT_EQ(pool.stats().num_queries, 1);
  EXPECT_EQ(pool.stats().num_query_blocks, 3);
  EXPECT_EQ(pool.stats().num_hit_blocks, 1);
  EXPECT_EQ(pool.stats().num_collisions, 0);
  pool.CheckConsistency();
}

TEST(BlockPoolTest, SharedBlocksAreCountedAndFreedOnce) {
  BlockPool pool(4, kBs);
  const std::vector<int32_t> tokens = Range(0, 2 * kBs);
  auto blocks = *pool.Allocate(2);
  MarkChain(pool, blocks, tokens);
  CachedPrefix other = pool.FindCachedPrefix(tokens);  // in use by two sequences now
  EXPECT_EQ(other.blocks, blocks);
  EXPECT_EQ(pool.ref_count(blocks[0]), 2);
  EXPECT_EQ(pool.num_free(), 2);
  pool.Free(blocks);
  EXPECT_EQ(pool.ref_count(blocks[0]), 1);
  EXPECT_EQ(pool.num_free(), 2);
  pool.Free(other.blocks);
  EXPECT_EQ(pool.num_free(), 4);
  pool.CheckConsistency();
}

TEST(BlockPoolTest, EvictedBlocksNoLongerHit) {
  BlockPool pool(2, kBs);
  const std::vector<int32_t> tokens = Range(0, 2 * kBs);
  auto blocks = *pool.Allocate(2);
  MarkChain(pool, blocks, tokens);
  pool.Free(blocks);
  auto reuse = *pool.Allocate(1);  // evicts the tail of the chain: block 1
  EXPECT_EQ(reuse, std::vector<int32_t>{blocks[1]});
  CachedPrefix hit = pool.FindCachedPrefix(tokens);
  EXPECT_EQ(hit.blocks, std::vector<int32_t>{blocks[0]});
  pool.Free(hit.blocks);
  pool.Free(reuse);
  pool.CheckConsistency();
}

TEST(BlockPoolTest, MarkFullKeepsTheFirstOfTwoEqualBlocks) {
  BlockPool pool(4, kBs);
  const std::vector<int32_t> tokens = Range(0, kBs);
  auto a = *pool.Allocate(1);
  auto b = *pool.Allocate(1);
  const uint64_t ha = pool.MarkFull(a[0], kRootBlockHash, tokens);
  const uint64_t hb = pool.MarkFull(b[0], kRootBlockHash, tokens);
  EXPECT_EQ(ha, hb);  // the chain goes on either way
  EXPECT_TRUE(pool.is_cached(a[0]));
  EXPECT_FALSE(pool.is_cached(b[0]));
  EXPECT_EQ(pool.MarkFull(a[0], kRootBlockHash, tokens), ha);  // idempotent
  EXPECT_EQ(pool.num_cached(), 1);
  pool.Free(b);
  pool.Free(a);
  EXPECT_EQ(pool.FindCachedPrefix(tokens).blocks, a);
  EXPECT_EQ(pool.stats().num_collisions, 0);
}

TEST(BlockPoolTest, HashDependsOnParentOrderAndLength) {
  const std::vector<int32_t> t = {1, 2, 3, 4};
  const std::vector<int32_t> swapped = {2, 1, 3, 4};
  const uint64_t h = HashBlockTokens(kRootBlockHash, t);
  EXPECT_EQ(h, HashBlockTokens(kRootBlockHash, t));
  EXPECT_NE(h, HashBlockTokens(kRootBlockHash, swapped));
  EXPECT_NE(h, HashBlockTokens(h, t));
  EXPECT_NE(HashBlockTokens(kRootBlockHash, {}), HashBlockTokens(kRootBlockHash, std::vector{0}));
  // No collisions among many small blocks.
  std::vector<uint64_t> hashes;
  for (int32_t a = 0; a < 100; ++a) {
    for (int32_t b = 0; b < 100; ++b) hashes.push_back(HashBlockTokens(kRootBlockHash, std::vector{a, b}));
  }
  std::sort(hashes.begin(), hashes.end());
  EXPECT_EQ(std::adjacent_find(hashes.begin(), hashes.end()), hashes.end());
}

// A hash that ignores the parent and sees only the token sum collides a lot; hits must still be
// exact, because a hit compares the stored parent hash and token ids.
uint64_t SumHash(uint64_t /*parent*/, std::span<const int32_t> tokens) {
  uint64_t sum = 0;
  for (int32_t t : tokens) sum += static_cast<uint64_t>(t);
  return sum;
}

TEST(BlockPoolTest, CollisionsNeverProduceAWrongHit) {
  BlockPool pool(8, 2, &SumHash);
  auto a = *pool.Allocate(2);
  pool.MarkFull(a[0], kRootBlockHash, std::vector{1, 2});
  pool.MarkFull(a[1], 3, std::vector{5, 5});  // chain [1 2][5 5]
  auto b = *pool.Allocate(2);
  pool.MarkFull(b[0], kRootBlockHash, std::vector{3, 3});
  pool.MarkFull(b[1], 6, std::vector{2, 1});  // same hash as a[0]: a clash, not registered
  EXPECT_EQ(pool.stats().num_collisions, 1);
  EXPECT_FALSE(pool.is_cached(b[1]));

  // Same hash as [1 2], other tokens: no hit.
  CachedPrefix hit = pool.FindCachedPrefix(std::vector{2, 1});
  EXPECT_TRUE(hit.blocks.empty());
  // [3 3] hits; then [5 5] has the right hash and tokens but another parent: no hit.
  hit = pool.FindCachedPrefix(std::vector{3, 3, 5, 5});
  EXPECT_EQ(hit.blocks, std::vector<int32_t>{b[0]});
  pool.Free(hit.blocks);
  EXPECT_EQ(pool.stats().num_collisions, 3);
  // The genuine chain still hits in full.
  hit = pool.FindCachedPrefix(std::vector{1, 2, 5, 5});
  EXPECT_EQ(hit.blocks, a);
  pool.Free(hit.blocks);
  pool.Free(a);
  pool.Free(b);
  pool.CheckConsistency();
}

// Random allocate / mark / look up / free sequences against a shadow of the reference counts.
TEST(BlockPoolTest, RandomizedOperationsKeepTheStructuresConsistent) {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 200; ++iter) {
    const int32_t num_blocks = 1 + static_cast<int32_t>(rng() % 16);
    BlockPool pool(num_blocks, kBs);
    std::vector<std::vector<int32_t>> held;
    std::vector<int32_t> refs(static_cast<size_t>(num_blocks), 0);
    for (int op = 0; op < 60; ++op) {
      const uint32_t kind = rng() % 3;
      if (kind == 0) {  // a "sequence" over a prompt from a tiny alphabet, so prefixes repeat
        const int32_t n_tok = static_cast<int32_t>(rng() % (4 * kBs));
        std::vector<int32_t> tokens(static_cast<size_t>(n_tok));
        for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % 2);
        CachedPrefix hit = pool.FindCachedPrefix(tokens);
        const int32_t full = n_tok / kBs;
        auto fresh = pool.Allocate(full - static_cast<int32_t>(hit.blocks.size()));
        if (!fresh) {
          pool.Free(hit.blocks);
          continue;
        }
        std::vector<int32_t> table = hit.blocks;
        table.insert(table.end(), fresh->begin(), fresh->end());
        uint64_t h = hit.last_hash;
        for (size_t i = hit.blocks.size(); i < table.size(); ++i) {
          h = pool.MarkFull(table[i], h, std::span<const int32_t>(tokens).subspan(i * kBs, kBs));
        }
        for (int32_t b : table) ++refs[static_cast<size_t>(b)];
        held.push_back(table);
      } else if (!held.empty()) {
        const size_t i = rng() % held.size();
        pool.Free(held[i]);
        for (int32_t b : held[i]) --refs[static_cast<size_t>(b)];
        held.erase(held.begin() + static_cast<std::ptrdiff_t>(i));
      }
      pool.CheckConsistency();
      int32_t free_count = 0;
      for (int32_t b = 0; b < num_blocks; ++b) {
        ASSERT_EQ(pool.ref_count(b), refs[static_cast<size_t>(b)]);
        free_count += refs[static_cast<size_t>(b)] == 0;
      }
      ASSERT_EQ(pool.num_free(), free_count);
    }
  }
}

}  // namespace
}  // namespace hearth::scheduler
