#include "model/bpe.h"

#include <gtest/gtest.h>

#include <set>

namespace hearth::model {
namespace {

TEST(BpeTest, ByteMappingIsGpt2s) {
  EXPECT_EQ(ByteToCodepoint(' '), 0x120u);   // Ġ
  EXPECT_EQ(ByteToCodepoint('\n'), 0x10Au);  // Ċ
  EXPECT_EQ(ByteToCodepoint('a'), static_cast<uint32_t>('a'));
  EXPECT_EQ(ByteToCodepoint(0xAD), 0x143u);  // soft hyphen is remapped
  std::set<uint32_t> seen;
  for (int b = 0; b < 256; ++b) {
    const uint32_t cp = ByteToCodepoint(static_cast<uint8_t>(b));
    EXPECT_TRUE(seen.insert(cp).second);
    EXPECT_EQ(CodepointToByte(cp), b);
  }
  EXPECT_EQ(CodepointToByte(0x4E2D), -1);
}

TEST(BpeTest, VocabTextRoundTrip) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  bool mapped = false;
  EXPECT_EQ(VocabTextToBytes(BytesToVocabText(all), &mapped), all);
  EXPECT_TRUE(mapped);
  EXPECT_EQ(BytesToVocabText(" hi"), "\xC4\xA0hi");
  EXPECT_EQ(VocabTextToBytes("\xE4\xB8\xAD", &mapped), "\xE4\xB8\xAD");  // not in the mapping
  EXPECT_FALSE(mapped);
}

// Ids: a=0 b=1 c=2 ab=3 bc=4 abc=5.
TEST(BpeTest, MergesByRank) {
  BpeMerges m;
  EXPECT_TRUE(m.Add(0, 1, 3));
  EXPECT_TRUE(m.Add(1, 2, 4));
  EXPECT_TRUE(m.Add(3, 2, 5));
  EXPECT_FALSE(m.Add(0, 1, 4));  // duplicate pair keeps its first rule
  std::vector<int32_t> s = {0, 1, 2};
  m.Apply(&s);
  EXPECT_EQ(s, (std::vector<int32_t>{5}));

  BpeMerges other;  // (b c) ranks before (a b): a + bc, and there is no rule for that
  other.Add(1, 2, 4);
  other.Add(0, 1, 3);
  s = {0, 1, 2};
  other.Apply(&s);
  EXPECT_EQ(s, (std::vector<int32_t>{0, 4}));
}

TEST(BpeTest, LeftmostWinsTiesAndUnknownSymbolsBlockMerges) {
  BpeMerges m;
  m.Add(0, 0, 1);  // a a -> aa
  std::vector<int32_t> s = {0, 0, 0};
  m.Apply(&s);
  EXPECT_EQ(s, (std::vector<int32_t>{1, 0}));
  s = {0, -1, 0, 0};
  m.Apply(&s);
  EXPECT_EQ(s, (std::vector<int32_t>{0, -1, 1}));
}

TEST(BpeTest, LongWord) {
  BpeMerges m;
  m.Add(0, 0, 1);  // a a -> aa
  m.Add(1, 1, 2);  // aa aa -> aaaa
  std::vector<int32_t> s(100000, 0);
  m.Apply(&s);
  EXPECT_EQ(s, std::vector<int32_t>(25000, 2));
}

}  // namespace
}  // namespace hearth::model
