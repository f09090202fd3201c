#include "daemon/routing/kv_wire.h"

#include <gtest/gtest.h>

namespace hearth::daemon {
namespace {

KvPrefix Sample() {
  KvPrefix p;
  p.model = "smollm2";
  p.block_size = 2;
  p.bytes_per_block = 3;
  p.tokens = {5, 6, 7, 8};
  p.data = "abcdef";
  return p;
}

TEST(KvWireTest, RoundTripsAndCutsParts) {
  StatusOr<KvPrefix> back = DecodeKvPrefix(EncodeKvPrefix(Sample()));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->model, "smollm2");
  EXPECT_EQ(back->block_size, 2);
  EXPECT_EQ(back->bytes_per_block, 3u);
  EXPECT_EQ(back->tokens, Sample().tokens);
  EXPECT_EQ(back->data, "abcdef");
  EXPECT_EQ(back->num_blocks(), 2);
  const KvPrefix head = KvPrefixPart(Sample(), 0, 1);
  EXPECT_EQ(head.tokens, (std::vector<int32_t>{5, 6}));
  EXPECT_EQ(head.first_block, 0);
  EXPECT_EQ(head.data, "abc");
  // The second part: every token up to its block (its cache key), only its own bytes.
  const KvPrefix tail = KvPrefixPart(Sample(), 1, 5);
  EXPECT_EQ(tail.tokens, Sample().tokens);
  EXPECT_EQ(tail.first_block, 1);
  EXPECT_EQ(tail.data, "def");
  StatusOr<KvPrefix> tail_back = DecodeKvPrefix(EncodeKvPrefix(tail));
  ASSERT_TRUE(tail_back.ok()) << tail_back.status().ToString();
  EXPECT_EQ(tail_back->first_block, 1);
  EXPECT_EQ(tail_back->data, "def");
  EXPECT_EQ(KvPrefixPart(Sample(), 0, 9).data, "abcdef");
  EXPECT_TRUE(KvPrefixPart(Sample(), 0, -1).tokens.empty());
}

TEST(KvWireTest, EveryMalformedBodyIsInvalidArgument) {
  const std::string good = EncodeKvPrefix(Sample());
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_EQ(DecodeKvPrefix(good.substr(0, n)).status().code(), Status::Code::kInvalidArgument) << n;
  }
  EXPECT_EQ(DecodeKvPrefix(good + "x").status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(DecodeKvPrefix("HKV2" + good.substr(4)).status().code(), Status::Code::kInvalidArgument);
  KvPrefix p = Sample();
  p.tokens = {5, 6, 7};  // not whole blocks
  EXPECT_EQ(DecodeKvPrefix(EncodeKvPrefix(p)).status().code(), Status::Code::kInvalidArgument);
  p = Sample();
  p.data = "abcdefg";  // not one block per block of tokens
  EXPECT_EQ(DecodeKvPrefix(EncodeKvPrefix(p)).status().code(), Status::Code::kInvalidArgument);
  p = Sample();
  p.bytes_per_block = 0;
  EXPECT_EQ(DecodeKvPrefix(EncodeKvPrefix(p)).status().code(), Status::Code::kInvalidArgument);
  p = Sample();
  p.block_size = 0;
  p.tokens.clear();
  p.data.clear();
  EXPECT_EQ(DecodeKvPrefix(EncodeKvPrefix(p)).status().code(), Status::Code::kInvalidArgument);
  p = Sample();
  p.tokens[1] = -4;
  EXPECT_EQ(DecodeKvPrefix(EncodeKvPrefix(p)).status().code(), Status::Code::kInvalidArgument);
  p = Sample();
  p.first_block = 3;  // past the tokens' two blocks
  p.data.clear();
  EXPECT_EQ(DecodeKvPrefix(EncodeKvPrefix(p)).status().code(), Status::Code::kInvalidArgument);
  p = Sample();
  p.first_block = 1;  // bytes for two blocks, one expected
  EXPECT_EQ(DecodeKvPrefix(EncodeKvPrefix(p)).status().code(), Status::Code::kInvalidArgument);
  p = Sample();
  p.model.clear();
  EXPECT_EQ(DecodeKvPrefix(EncodeKvPrefix(p)).status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace hearth::daemon
