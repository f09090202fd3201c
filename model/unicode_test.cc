#include "model/unicode.h"

#include <gtest/gtest.h>

namespace hearth::model {
namespace {

TEST(UnicodeTest, Categories) {
  EXPECT_TRUE(IsLetter('a'));
  EXPECT_TRUE(IsLetter(0xE9));     // é
  EXPECT_TRUE(IsLetter(0x4E2D));   // 中
  EXPECT_TRUE(IsLetter(0x0627));   // Arabic alef
  EXPECT_FALSE(IsLetter('1'));
  EXPECT_TRUE(IsNumber('7'));
  EXPECT_TRUE(IsNumber(0x0663));   // Arabic-Indic three
  EXPECT_TRUE(IsNumber(0x00B2));   // superscript two (No)
  EXPECT_TRUE(IsWhitespace(' '));
  EXPECT_TRUE(IsWhitespace('\t'));
  EXPECT_TRUE(IsWhitespace(0x3000));
  EXPECT_TRUE(IsWhitespace(0x85));
  EXPECT_FALSE(IsWhitespace(0x200B));  // zero-width space is not White_Space
  EXPECT_EQ(CodepointFlagsOf('!'), kCpPunctuation);
  EXPECT_EQ(CodepointFlagsOf(0x1F600), kCpSymbol);  // 😀
  EXPECT_EQ(CodepointFlagsOf(0x0301), kCpMark);
  EXPECT_EQ(CodepointFlagsOf(0x0378), kCpUndefined);  // unassigned
  EXPECT_EQ(CodepointFlagsOf(0x110000), 0);
}

TEST(UnicodeTest, DecodeRejectsIllFormedSequences) {
  uint32_t cp = 0;
  EXPECT_EQ(DecodeUtf8At("\xE4\xB8\xAD", 0, &cp), 3u);
  EXPECT_EQ(cp, 0x4E2Du);
  EXPECT_EQ(DecodeUtf8At("\xF0\x9F\x98\x80", 0, &cp), 4u);
  EXPECT_EQ(cp, 0x1F600u);
  EXPECT_EQ(DecodeUtf8At("\xC0\x80", 0, &cp), 0u);          // overlong
  EXPECT_EQ(DecodeUtf8At("\xE0\x80\x80", 0, &cp), 0u);      // overlong
  EXPECT_EQ(DecodeUtf8At("\xED\xA0\x80", 0, &cp), 0u);      // surrogate
  EXPECT_EQ(DecodeUtf8At("\xF4\x90\x80\x80", 0, &cp), 0u);  // past U+10FFFF
  EXPECT_EQ(DecodeUtf8At("\x80", 0, &cp), 0u);
  EXPECT_EQ(DecodeUtf8At("\xE4\xB8", 0, &cp), 0u);  // truncated
}

TEST(UnicodeTest, SanitizeReplacesEachBadByte) {
  EXPECT_EQ(SanitizeUtf8("ok"), "ok");
  EXPECT_EQ(SanitizeUtf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(SanitizeUtf8("\xE4\xB8"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_TRUE(IsValidUtf8(SanitizeUtf8("\xC0\x80\xED\xA0\x80 x")));
}

TEST(UnicodeTest, IncompleteTail) {
  EXPECT_EQ(IncompleteUtf8Tail(""), 0u);
  EXPECT_EQ(IncompleteUtf8Tail("abc"), 0u);
  EXPECT_EQ(IncompleteUtf8Tail("a\xE4"), 1u);
  EXPECT_EQ(IncompleteUtf8Tail("a\xE4\xB8"), 2u);
  EXPECT_EQ(IncompleteUtf8Tail("a\xE4\xB8\xAD"), 0u);
  EXPECT_EQ(IncompleteUtf8Tail("\xF0\x9F\x98"), 3u);
  EXPECT_EQ(IncompleteUtf8Tail("\x80"), 0u);      // stray continuation: never completes
  EXPECT_EQ(IncompleteUtf8Tail("\xE0\x80"), 0u);  // would be overlong
  EXPECT_EQ(IncompleteUtf8Tail("\xFF"), 0u);
}

TEST(UnicodeTest, DecodeOffsets) {
  const DecodedText d = DecodeUtf8("a\xC3\xA9\xFF");
  ASSERT_EQ(d.cps.size(), 3u);
  EXPECT_EQ(d.cps[1], 0xE9u);
  EXPECT_EQ(d.cps[2], kReplacementChar);
  EXPECT_EQ(d.offsets, (std::vector<size_t>{0, 1, 3, 4}));
}

}  // namespace
}  // namespace hearth::model
