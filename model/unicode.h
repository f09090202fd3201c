// UTF-8 decoding and the Unicode character classes the pre-tokenizers need (\p{L}, \p{N}, \s).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::model {

// General category group of a code point plus the White_Space property (a bit set).
enum CodepointFlags : uint16_t {
  kCpUndefined = 1,     // unassigned (Cn)
  kCpNumber = 2,        // \p{N}
  kCpLetter = 4,        // \p{L}
  kCpSeparator = 8,     // \p{Z}
  kCpMark = 16,         // \p{M}
  kCpPunctuation = 32,  // \p{P}
  kCpSymbol = 64,       // \p{S}
  kCpControl = 128,     // \p{C} other than Cn
  kCpWhitespace = 256,  // White_Space property, what regex \s matches
};

constexpr uint32_t kReplacementChar = 0xFFFD;

// Flags of a code point; 0 for values past U+10FFFF.
uint16_t CodepointFlagsOf(uint32_t cp);
inline bool IsLetter(uint32_t cp) { return CodepointFlagsOf(cp) & kCpLetter; }
inline bool IsNumber(uint32_t cp) { return CodepointFlagsOf(cp) & kCpNumber; }
inline bool IsWhitespace(uint32_t cp) { return CodepointFlagsOf(cp) & kCpWhitespace; }

// Decodes one well-formed UTF-8 sequence (no overlongs, surrogates or values past U+10FFFF) at
// s[pos]. Returns its length and sets *cp, or returns 0 when the bytes there are not one.
size_t DecodeUtf8At(std::string_view s, size_t pos, uint32_t* cp);

// Appends the UTF-8 encoding of `cp` (which must be a valid scalar value).
void AppendUtf8(uint32_t cp, std::string* out);

bool IsValidUtf8(std::string_view s);

// Returns `s` with every byte that is not part of a well-formed sequence replaced by U+FFFD
// (one per byte, as llama.cpp does). Valid input is returned unchanged.
std::string SanitizeUtf8(std::string_view s);

// Number of bytes at the end of `s` that are a proper prefix of a well-formed sequence, i.e.
// could still become a character when more bytes arrive (0..3).
size_t IncompleteUtf8Tail(std::string_view s);

// Decodes valid UTF-8 into code points; offsets[i] is the byte offset of cps[i] and
// offsets.back() == s.size(). Invalid bytes decode as U+FFFD (one byte each).
struct DecodedText {
  std::vector<uint32_t> cps;
  std::vector<size_t> offsets;  // [cps.size() + 1]
};
DecodedText DecodeUtf8(std::string_view s);

}  // namespace hearth::model
