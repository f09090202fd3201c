// The page pool: regions are contiguous, hold their own pages, give them back, and a full pool
// says so without changing anything.
#include "gpu_worker/page_pool.h"

#include <gtest/gtest.h>

#include <random>
#include <unistd.h>

#include <cstring>
#include <set>

namespace hearth::worker {
namespace {

size_t SystemPage() { return static_cast<size_t>(::sysconf(_SC_PAGESIZE)); }

TEST(PagePoolTest, RejectsBadShapes) {
  EXPECT_FALSE(PagePool::Create(0, SystemPage()).ok());
  EXPECT_FALSE(PagePool::Create(4, SystemPage() + 1).ok());
  EXPECT_FALSE(PagePool::Create(4, 0).ok());
}

TEST(PagePoolTest, RegionsAreContiguousAndHoldTheirOwnPages) {
  const size_t page = 4 * SystemPage();
  auto pool = PagePool::Create(8, page);
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  auto a = (*pool)->Map(3 * page - 5);  // 3 pages
  auto b = (*pool)->Map(2 * page + 1);  // 3 pages
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->pages().size(), 3u);
  EXPECT_EQ((*b)->pages().size(), 3u);
  EXPECT_EQ((*pool)->num_free_pages(), 2);
  std::set<int32_t> pages((*a)->pages().begin(), (*a)->pages().end());
  for (int32_t p : (*b)->pages()) EXPECT_TRUE(pages.insert(p).second) << "page " << p << " in two regions";
  // Writes across page boundaries land in each region's own memory.
  std::memset((*a)->data(), 0xA5, (*a)->size());
  std::memset((*b)->data(), 0x5A, (*b)->size());
  for (size_t i = 0; i < (*a)->size(); i += 997) ASSERT_EQ((*a)->data()[i], 0xA5) << i;
  for (size_t i = 0; i < (*b)->size(); i += 997) ASSERT_EQ((*b)->data()[i], 0x5A) << i;
  EXPECT_EQ((*a)->data()[(*a)->size() - 1], 0xA5);
}

TEST(PagePoolTest, AFullPoolRefusesAndReleasedPagesAreReused) {
  const size_t page = SystemPage();
  auto pool = PagePool::Create(4, page);
  ASSERT_TRUE(pool.ok());
  auto a = (*pool)->Map(3 * page);
  ASSERT_TRUE(a.ok());
  auto too_big = (*pool)->Map(2 * page);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), Status::Code::kResourceExhausted);
  EXPECT_NE(too_big.status().message().find("free pages"), std::string::npos) << too_big.status().ToString();
  EXPECT_EQ((*pool)->num_free_pages(), 1) << "a refused map takes nothing";
  const std::vector<int32_t> a_pages = (*a)->pages();
  std::memset((*a)->data(), 7, 3 * page);
  a->reset();  // swap out
  EXPECT_EQ((*pool)->num_free_pages(), 4);
  auto b = (*pool)->Map(4 * page);  // the whole pool, a's pages among them
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ((*pool)->num_free_pages(), 0);
  std::set<int32_t> b_pages((*b)->pages().begin(), (*b)->pages().end());
  for (int32_t p : a_pages) EXPECT_TRUE(b_pages.contains(p));
  // The memory is the pool's: a's bytes are still in its pages, wherever they are mapped now.
  int sevens = 0;
  for (size_t i = 0; i < 4 * page; i += page) sevens += (*b)->data()[i] == 7;
  EXPECT_EQ(sevens, 3);
}

// Free pages side by side make a region of the arena (no new mapping); scattered ones are mapped
// into a new contiguous range over the same memory.
TEST(PagePoolTest, AFragmentedPoolRemapsScatteredPages) {
  const size_t page = SystemPage();
  auto pool = PagePool::Create(5, page);
  ASSERT_TRUE(pool.ok());
  auto a = (*pool)->Map(page);
  auto b = (*pool)->Map(page);
  auto c = (*pool)->Map(page);
  auto d = (*pool)->Map(page);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  EXPECT_FALSE((*a)->remapped());
  EXPECT_EQ((*b)->data(), (*a)->data() + page) << "runs of the arena, side by side";
  b->reset();
  d->reset();  // free: pages 1, 3 and 4
  auto two = (*pool)->Map(2 * page);  // pages 3 and 4 are side by side
  ASSERT_TRUE(two.ok());
  EXPECT_FALSE((*two)->remapped());
  EXPECT_EQ((*two)->pages(), (std::vector<int32_t>{3, 4}));
  two->reset();
  c->reset();  // free: 1, 2, 3, 4 (0 held)
  auto e = (*pool)->Map(page);  // takes page 1
  ASSERT_TRUE(e.ok());
  auto f = (*pool)->Map(page);  // page 2
  ASSERT_TRUE(f.ok());
  e->reset();  // free: 1, 3, 4
  auto three = (*pool)->Map(3 * page);  // no run of 3: pages 1, 3, 4 mapped into a new range
  ASSERT_TRUE(three.ok()) << three.status().ToString();
  EXPECT_TRUE((*three)->remapped());
  EXPECT_EQ((*three)->pages(), (std::vector<int32_t>{1, 3, 4}));
  std::memset((*three)->data(), 0x33, 3 * page);
  EXPECT_EQ((*pool)->num_free_pages(), 0);
  // The bytes are in the pool's pages: once everything is free, the arena's run shows them.
  three->reset();
  f->reset();
  a->reset();
  auto all = (*pool)->Map(5 * page);
  ASSERT_TRUE(all.ok());
  EXPECT_FALSE((*all)->remapped());
  for (int32_t p : {1, 3, 4}) EXPECT_EQ((*all)->data()[static_cast<size_t>(p) * page], 0x33) << p;
}

}  // namespace
// Many regions made and given back in a random order, the pool fragmenting and remapping:
// every live region's every byte stays readable and holds what was written to it.
TEST(PagePoolTest, RandomMapsAndReleasesKeepEveryRegionIntact) {
  const size_t page = 2u << 20;  // the worker's page: huge-page aligned
  auto pool = PagePool::Create(64, page, /*prefault=*/false);
  ASSERT_TRUE(pool.ok());
  std::mt19937 rng(7);
  std::vector<std::pair<std::unique_ptr<PagedRegion>, uint8_t>> live;
  for (int step = 0; step < 1000; ++step) {
    if (!live.empty() && (rng() % 3 == 0 || (*pool)->num_free_pages() < 8)) {
      live.erase(live.begin() + static_cast<long>(rng() % live.size()));
    } else {
      const size_t bytes = page * (1 + rng() % 12) - rng() % page;
      auto r = (*pool)->Map(bytes, /*populate=*/rng() % 2 == 0);
      if (!r.ok()) continue;
      const uint8_t tag = static_cast<uint8_t>(1 + step % 250);
      std::memset((*r)->data(), tag, (*r)->size());
      live.emplace_back(std::move(r).value(), tag);
    }
    for (const auto& [region, tag] : live) {
      const uint8_t* d = region->data();
      for (size_t off = 0; off < region->size(); off += 4096) ASSERT_EQ(d[off], tag) << "step " << step;
      ASSERT_EQ(d[region->size() - 1], tag) << "step " << step;
    }
  }
}

}  // namespace hearth::worker
