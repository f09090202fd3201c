#include "gpu_worker/kv_cache.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

namespace hearth::worker {
namespace {

KvCacheOptions Small() {
  KvCacheOptions o;
  o.num_layers = 3;
  o.num_kv_heads = 2;
  o.head_dim = 4;
  o.block_size = 4;
  o.num_blocks = 6;
  return o;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// One block's bytes sit where attention reads them: layer by layer, K then V, at the block's
// offset in each pool.
TEST(KvCacheTest, BlocksReadBackAsWrittenAndLandWhereAttentionReadsThem) {
  StatusOr<std::unique_ptr<KvCache>> made = KvCache::Create(Small());
  ASSERT_TRUE(made.ok());
  KvCache& cache = **made;
  const uint64_t per_block = cache.bytes_per_block();
  EXPECT_EQ(per_block, 2u * 3 * 4 * 2 * 4 * 2);  // K and V, layers, tokens, heads, dims, f16
  const std::string data = RandomBytes(2 * per_block, 7);
  const std::vector<int32_t> blocks = {4, 1};
  ASSERT_TRUE(cache.WriteBlocks(blocks, data).ok());
  std::string back;
  ASSERT_TRUE(cache.ReadBlocks(blocks, &back).ok());
  EXPECT_EQ(back, data);
  // Block 4's layer-2 V block is the 6th slice of the first block's data.
  const size_t slice = per_block / 6;
  const auto* v2 = static_cast<const char*>(cache.layer(2).v) + slice * 4;
  EXPECT_EQ(std::string(v2, slice), data.substr(5 * slice, slice));
  const auto* k0 = static_cast<const char*>(cache.layer(0).k) + slice * 1;
  EXPECT_EQ(std::string(k0, slice), data.substr(per_block, slice)) << "block 1's layer-0 K comes first in its bytes";
  // The other blocks are untouched (zero).
  std::string other;
  ASSERT_TRUE(cache.ReadBlocks(std::vector<int32_t>{0}, &other).ok());
  EXPECT_EQ(other, std::string(per_block, '\0'));
}

TEST(KvCacheTest, OutOfRangeBlocksAndWrongSizesAreRefusedAndChangeNothing) {
  StatusOr<std::unique_ptr<KvCache>> made = KvCache::Create(Small());
  ASSERT_TRUE(made.ok());
  KvCache& cache = **made;
  const std::string one = RandomBytes(cache.bytes_per_block(), 3);
  EXPECT_EQ(cache.WriteBlocks(std::vector<int32_t>{6}, one).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(cache.WriteBlocks(std::vector<int32_t>{-1}, one).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(cache.WriteBlocks(std::vector<int32_t>{0, 1}, one).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(cache.WriteBlocks(std::vector<int32_t>{0}, one.substr(1)).code(), Status::Code::kInvalidArgument);
  std::string out;
  EXPECT_EQ(cache.ReadBlocks(std::vector<int32_t>{0, 6}, &out).code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(cache.ReadBlocks(std::vector<int32_t>{0, 1}, &out).ok());
  EXPECT_EQ(out, std::string(2 * cache.bytes_per_block(), '\0')) << "no refused write changed a block";
}

}  // namespace
}  // namespace hearth::worker
