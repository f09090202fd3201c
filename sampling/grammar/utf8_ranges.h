// Code point ranges -> UTF-8 byte-range sequences, so a character class like [^"\\] or
// [а-я] becomes alternatives of byte sets that a byte matcher can follow (the split that
// regular-expression engines use). Surrogates (U+D800..U+DFFF) are never produced.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace hearth::grammar {

inline constexpr uint32_t kMaxCodePoint = 0x10FFFF;

struct CodePointRange {
  uint32_t lo = 0, hi = 0;  // inclusive
};

// One UTF-8 shape: byte i lies in [ranges[i].first, ranges[i].second].
using Utf8Sequence = std::vector<std::pair<uint8_t, uint8_t>>;

// Sorts and merges `ranges`, and when `negate` takes the complement over all code points.
std::vector<CodePointRange> NormalizeRanges(std::vector<CodePointRange> ranges, bool negate);

// The UTF-8 sequences that together match exactly the code points in `ranges` (normalized).
std::vector<Utf8Sequence> Utf8Sequences(const std::vector<CodePointRange>& ranges);

// Appends the UTF-8 encoding of `cp` (which must be a scalar value).
void AppendUtf8(uint32_t cp, std::vector<uint8_t>* out);

}  // namespace hearth::grammar
