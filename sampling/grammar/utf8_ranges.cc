#include "sampling/grammar/utf8_ranges.h"

#include <algorithm>

#include "common/utf8.h"

namespace hearth::grammar {
namespace {

int Utf8Length(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

std::vector<uint8_t> Encode(uint32_t cp) {
  std::vector<uint8_t> out;
  AppendUtf8(cp, &out);
  return out;
}

// [lo, hi] share one encoded length; split it until every byte position is an independent
// range (the continuation bytes below a differing prefix must span 0x80..0xBF fully).
void Split(uint32_t lo, uint32_t hi, std::vector<Utf8Sequence>* out) {
  const int n = Utf8Length(lo);
  for (int i = 1; i < n; ++i) {
    const uint32_t m = (uint32_t{1} << (6 * i)) - 1;
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        Split(lo, lo | m, out);
        Split((lo | m) + 1, hi, out);
        return;
      }
      if ((hi & m) != m) {
        Split(lo, (hi & ~m) - 1, out);
        Split(hi & ~m, hi, out);
        return;
      }
    }
  }
  const std::vector<uint8_t> a = Encode(lo), b = Encode(hi);
  Utf8Sequence seq;
  for (size_t i = 0; i < a.size(); ++i) seq.push_back({a[i], b[i]});
  out->push_back(std::move(seq));
}

}  // namespace

void AppendUtf8(uint32_t cp, std::vector<uint8_t>* out) { EncodeUtf8(cp, out); }

std::vector<CodePointRange> NormalizeRanges(std::vector<CodePointRange> ranges, bool negate) {
  for (CodePointRange& r : ranges) {
    r.hi = std::min(r.hi, kMaxCodePoint);
  }
  std::erase_if(ranges, [](const CodePointRange& r) { return r.lo > r.hi; });
  std::sort(ranges.begin(), ranges.end(), [](const CodePointRange& a, const CodePointRange& b) { return a.lo < b.lo; });
  std::vector<CodePointRange> merged;
  for (const CodePointRange& r : ranges) {
    if (!merged.empty() && r.lo <= merged.back().hi + 1) {
      merged.back().hi = std::max(merged.back().hi, r.hi);
    } else {
      merged.push_back(r);
    }
  }
  if (negate) {
    std::vector<CodePointRange> complement;
    uint32_t next = 0;
    for (const CodePointRange& r : merged) {
      if (r.lo > next) complement.push_back({next, r.lo - 1});
      next = r.hi + 1;
    }
    if (next <= kMaxCodePoint) complement.push_back({next, kMaxCodePoint});
    merged = std::move(complement);
  }
  // Cut out the surrogates.
  std::vector<CodePointRange> out;
  for (const CodePointRange& r : merged) {
    if (r.hi < 0xD800 || r.lo > 0xDFFF) {
      out.push_back(r);
      continue;
    }
    if (r.lo < 0xD800) out.push_back({r.lo, 0xD7FF});
    if (r.hi > 0xDFFF) out.push_back({0xE000, r.hi});
  }
  return out;
}

std::vector<Utf8Sequence> Utf8Sequences(const std::vector<CodePointRange>& ranges) {
  static constexpr uint32_t kBandEnds[] = {0x7F, 0x7FF, 0xFFFF, kMaxCodePoint};
  std::vector<Utf8Sequence> out;
  for (const CodePointRange& r : ranges) {
    uint32_t lo = r.lo;
    for (uint32_t end : kBandEnds) {
      if (lo > r.hi) break;
      if (lo > end) continue;
      const uint32_t hi = std::min(r.hi, end);
      Split(lo, hi, &out);
      lo = hi + 1;
    }
  }
  return out;
}

}  // namespace hearth::grammar
