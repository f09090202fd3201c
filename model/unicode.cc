// UTF-8 per Unicode Table 3-7 (well-formed byte sequences) and the category table lookup.
#include "model/unicode.h"

#include <algorithm>

#include "common/utf8.h"
#include "model/unicode_data.h"

namespace hearth::model {
namespace {

// Length of the sequence a lead byte starts (0: not a lead byte) and the allowed range of the
// second byte, which is what excludes overlongs, surrogates and values past U+10FFFF.
struct LeadInfo {
  size_t length;
  uint8_t second_lo;
  uint8_t second_hi;
};

LeadInfo LeadOf(uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b < 0xC2) return {0, 0, 0};
  if (b < 0xE0) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b < 0xF0) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b < 0xF4) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

bool IsContinuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// How many bytes from s[pos] agree with a well-formed sequence (stops at the first mismatch or
// at the end of s), and the length that sequence needs.
size_t MatchingPrefix(std::string_view s, size_t pos, size_t* needed) {
  const LeadInfo lead = LeadOf(static_cast<uint8_t>(s[pos]));
  *needed = lead.length;
  if (lead.length == 0) return 0;
  size_t n = 1;
  while (n < lead.length && pos + n < s.size()) {
    const auto b = static_cast<uint8_t>(s[pos + n]);
    const bool ok = n == 1 ? (b >= lead.second_lo && b <= lead.second_hi) : IsContinuation(b);
    if (!ok) break;
    ++n;
  }
  return n;
}

}  // namespace

uint16_t CodepointFlagsOf(uint32_t cp) {
  if (cp > 0x10FFFF) return 0;
  // The last run whose start is <= cp.
  const CodepointRun* end = kCodepointRuns + kNumCodepointRuns;
  const CodepointRun* it = std::upper_bound(
      kCodepointRuns, end, cp, [](uint32_t v, const CodepointRun& r) { return v < r.start; });
  return (it - 1)->flags;
}

size_t DecodeUtf8At(std::string_view s, size_t pos, uint32_t* cp) {
  size_t needed = 0;
  const size_t n = MatchingPrefix(s, pos, &needed);
  if (n == 0 || n != needed) return 0;
  const auto b0 = static_cast<uint8_t>(s[pos]);
  static constexpr uint8_t kLeadMask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  uint32_t v = b0 & kLeadMask[n];
  for (size_t i = 1; i < n; ++i) v = (v << 6) | (static_cast<uint8_t>(s[pos + i]) & 0x3F);
  *cp = v;
  return n;
}

void AppendUtf8(uint32_t cp, std::string* out) { EncodeUtf8(cp, out); }

bool IsValidUtf8(std::string_view s) {
  size_t pos = 0;
  uint32_t cp = 0;
  while (pos < s.size()) {
    if (static_cast<uint8_t>(s[pos]) < 0x80) {  // ASCII fast path
      ++pos;
      continue;
    }
    const size_t n = DecodeUtf8At(s, pos, &cp);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

std::string SanitizeUtf8(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 16);
  size_t pos = 0;
  uint32_t cp = 0;
  while (pos < s.size()) {
    const size_t n = DecodeUtf8At(s, pos, &cp);
    if (n == 0) {
      AppendUtf8(kReplacementChar, &out);
      ++pos;
    } else {
      out.append(s.substr(pos, n));
      pos += n;
    }
  }
  return out;
}

size_t IncompleteUtf8Tail(std::string_view s) {
  for (size_t k = 1; k <= 3 && k <= s.size(); ++k) {
    const size_t pos = s.size() - k;
    const auto b = static_cast<uint8_t>(s[pos]);
    if (IsContinuation(b)) continue;  // keep looking back for the lead byte
    size_t needed = 0;
    const size_t n = MatchingPrefix(s, pos, &needed);
    return (n == k && needed > k) ? k : 0;
  }
  return 0;
}

DecodedText DecodeUtf8(std::string_view s) {
  DecodedText d;
  d.cps.reserve(s.size());
  d.offsets.reserve(s.size() + 1);
  size_t pos = 0;
  while (pos < s.size()) {
    uint32_t cp = 0;
    size_t n = DecodeUtf8At(s, pos, &cp);
    if (n == 0) {
      cp = kReplacementChar;
      n = 1;
    }
    d.cps.push_back(cp);
    d.offsets.push_back(pos);
    pos += n;
  }
  d.offsets.push_back(s.size());
  return d;
}

}  // namespace hearth::model
