#include "model/detokenizer.h"

#include <gtest/gtest.h>

#include "model/tokenizer_test_util.h"
#include "model/unicode.h"

namespace hearth::model {
namespace {

std::unique_ptr<Tokenizer> MakeByteLevel() {
  return std::move(Tokenizer::Create(testing::ByteLevelSpec())).value();
}

TEST(StreamingDetokenizerTest, NeverSplitsACharacter) {
  auto t = MakeByteLevel();
  const std::string text = "héllo 中文 😀 world";
  const std::vector<int32_t> ids = t->Encode(text, false, false);
  StreamingDetokenizer d(*t);
  std::string all;
  int held_back = 0;
  for (int32_t id : ids) {
    auto chunk = d.Push(id);
    ASSERT_TRUE(chunk.ok());
    EXPECT_TRUE(IsValidUtf8(*chunk));
    if (d.pending_bytes() > 0) ++held_back;
    all += *chunk;
  }
  EXPECT_GT(held_back, 0);  // the multi-byte characters were really split across tokens
  EXPECT_EQ(d.Flush(), "");
  EXPECT_EQ(all, text);
}

TEST(StreamingDetokenizerTest, FlushReplacesAnUnfinishedCharacter) {
  auto t = MakeByteLevel();
  StreamingDetokenizer d(*t);
  const std::vector<int32_t> ids = t->Encode("中", false, false);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(*d.Push(ids[0]), "");
  EXPECT_EQ(*d.Push(ids[1]), "");
  EXPECT_EQ(d.Flush(), "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(StreamingDetokenizerTest, InvalidBytesAreReplacedImmediately) {
  auto t = MakeByteLevel();
  StreamingDetokenizer d(*t);
  const int32_t byte_ff = 4 + 0xFF, byte_e4 = 4 + 0xE4;
  EXPECT_EQ(*d.Push(byte_ff), "\xEF\xBF\xBD");
  EXPECT_EQ(*d.Push(byte_e4), "");
  EXPECT_EQ(*d.Push(*t->TokenId("a")), "\xEF\xBF\xBD" "a");  // E4 cannot be followed by 'a'
}

TEST(StreamingDetokenizerTest, SpecialTokens) {
  auto t = MakeByteLevel();
  StreamingDetokenizer skip(*t);
  EXPECT_EQ(*skip.Push(2), "");
  StreamingDetokenizer render(*t, {.render_special = true});
  EXPECT_EQ(*render.Push(2), "<|im_end|>");
  EXPECT_TRUE(render.Push(-5).status().IsInvalidArgument());
}

}  // namespace
}  // namespace hearth::model
