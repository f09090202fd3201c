#include "sampling/grammar/utf8_ranges.h"

#include <gtest/gtest.h>

namespace hearth::grammar {
namespace {

// Whether the UTF-8 encoding of `cp` matches one of `seqs`.
bool Covered(const std::vector<Utf8Sequence>& seqs, uint32_t cp) {
  std::vector<uint8_t> bytes;
  AppendUtf8(cp, &bytes);
  for (const Utf8Sequence& s : seqs) {
    if (s.size() != bytes.size()) continue;
    bool all = true;
    for (size_t i = 0; i < s.size(); ++i) all = all && bytes[i] >= s[i].first && bytes[i] <= s[i].second;
    if (all) return true;
  }
  return false;
}

TEST(Utf8RangesTest, EveryCodePointOfARangeAndNoOtherIsCovered) {
  const std::vector<CodePointRange> ranges = NormalizeRanges({{0x41, 0x5A}, {0x3B1, 0x3C9}, {0x7F0, 0x20AC}}, false);
  const std::vector<Utf8Sequence> seqs = Utf8Sequences(ranges);
  for (uint32_t cp = 0; cp < 0x3000; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    const bool inside = (cp >= 0x41 && cp <= 0x5A) || (cp >= 0x3B1 && cp <= 0x3C9) || (cp >= 0x7F0 && cp <= 0x20AC);
    EXPECT_EQ(Covered(seqs, cp), inside) << cp;
  }
}

TEST(Utf8RangesTest, NegationCoversEverythingElseButNeverSurrogates) {
  const std::vector<Utf8Sequence> seqs = Utf8Sequences(NormalizeRanges({{'"', '"'}, {'\\', '\\'}}, true));
  EXPECT_FALSE(Covered(seqs, '"'));
  EXPECT_FALSE(Covered(seqs, '\\'));
  for (uint32_t cp : {0u, 0x41u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xD7FFu, 0xE000u, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    EXPECT_TRUE(Covered(seqs, cp)) << cp;
  }
  // A surrogate's would-be encoding (ED A0 80) is not valid UTF-8 and must not be produced.
  for (const Utf8Sequence& s : seqs) {
    if (s.size() == 3 && s[0].first <= 0xED && s[0].second >= 0xED) {
      EXPECT_LT(s[1].second, 0xA0);
    }
  }
}

TEST(Utf8RangesTest, NormalizeMergesOverlapsAndClampsToTheLastCodePoint) {
  const std::vector<CodePointRange> r = NormalizeRanges({{10, 20}, {15, 30}, {31, 31}, {0x10FFF0, 0xFFFFFFFF}}, false);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].lo, 10u);
  EXPECT_EQ(r[0].hi, 31u);
  EXPECT_EQ(r[1].hi, kMaxCodePoint);
}

}  // namespace
}  // namespace hearth::grammar
