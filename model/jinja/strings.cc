#include "model/jinja/strings.h"

#include <algorithm>
#include <cstdint>

namespace hearth::model::jinja {
namespace {

// Python's str.isspace() code points, as UTF-8.
bool WhitespaceAt(std::string_view s, size_t i, size_t* len) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f)) {
    *len = 1;
    return true;
  }
  if (c == 0xc2 && i + 1 < s.size() && (b(1) == 0x85 || b(1) == 0xa0)) {
    *len = 2;
    return true;
  }
  if (i + 2 < s.size()) {
    const uint32_t cp = (c << 16) | (b(1) << 8) | b(2);
    if (cp == 0xe19a80 || (cp >= 0xe28080 && cp <= 0xe2808a) || cp == 0xe280a8 || cp == 0xe280a9 ||
        cp == 0xe280af || cp == 0xe2819f || cp == 0xe38080) {
      *len = 3;
      return true;
    }
  }
  return false;
}

size_t CodePointLength(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 1;
  if (i + n > s.size()) return 1;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 1;
  }
  return n;
}

bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char ToUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }
char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

}  // namespace

std::vector<std::string> CodePoints(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const size_t n = CodePointLength(s, i);
    out.emplace_back(s.substr(i, n));
    i += n;
  }
  return out;
}

std::string Strip(std::string_view s, bool left, bool right, std::optional<std::string> chars) {
  const std::vector<std::string> cps = CodePoints(s);
  auto strip_it = [&](const std::string& cp) {
    if (chars) return chars->find(cp) != std::string::npos;
    size_t len = 0;
    return WhitespaceAt(cp, 0, &len) && len == cp.size();
  };
  size_t b = 0, e = cps.size();
  if (left) {
    while (b < e && strip_it(cps[b])) ++b;
  }
  if (right) {
    while (e > b && strip_it(cps[e - 1])) --e;
  }
  std::string out;
  for (size_t i = b; i < e; ++i) out += cps[i];
  return out;
}

std::vector<std::string> Split(std::string_view s, std::optional<std::string> sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep && !sep->empty()) {
    size_t from = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      const size_t at = s.find(*sep, from);
      if (at == std::string_view::npos) break;
      out.emplace_back(s.substr(from, at - from));
      from = at + sep->size();
    }
    out.emplace_back(s.substr(from));
    return out;
  }
  size_t i = 0, len = 0;
  while (i < s.size()) {
    while (i < s.size() && WhitespaceAt(s, i, &len)) i += len;
    if (i >= s.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
      out.push_back(Strip(s.substr(i), false, true, std::nullopt));
      break;
    }
    const size_t start = i;
    while (i < s.size() && !WhitespaceAt(s, i, &len)) i += CodePointLength(s, i);
    out.emplace_back(s.substr(start, i - start));
  }
  return out;
}

std::string ReplaceAll(std::string_view s, std::string_view from, std::string_view to, int64_t count) {
  std::string out;
  if (from.empty()) {
    // Python inserts `to` around every code point.
    const std::vector<std::string> cps = CodePoints(s);
    int64_t done = 0;
    for (const std::string& cp : cps) {
      if (count < 0 || done < count) {
        out.append(to);
        ++done;
      }
      out += cp;
    }
    if (count < 0 || done < count) out.append(to);
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t at = s.find(from, pos);
    if (at == std::string_view::npos) break;
    out.append(s.substr(pos, at - pos));
    out.append(to);
    pos = at + from.size();
    ++done;
  }
  out.append(s.substr(pos));
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ToUpper);
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), ToLower);
  return out;
}

std::string Capitalize(std::string_view s) {
  std::string out = Lower(s);
  if (!out.empty()) out[0] = ToUpper(out[0]);
  return out;
}

std::string PyTitle(std::string_view s) {
  std::string out(s);
  bool prev_cased = false;
  for (char& c : out) {
    c = prev_cased ? ToLower(c) : ToUpper(c);
    prev_cased = IsAsciiAlpha(c);
  }
  return out;
}

std::string JinjaTitle(std::string_view s) {
  std::string out(s);
  bool word_start = true;
  for (char& c : out) {
    const bool sep = c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
                     c == '\v' || c == '(' || c == '{' || c == '[' || c == '<';
    if (sep) {
      word_start = true;
      continue;
    }
    c = word_start ? ToUpper(c) : ToLower(c);
    word_start = false;
  }
  return out;
}

std::vector<size_t> SliceIndices(size_t n, std::optional<int64_t> start, std::optional<int64_t> stop,
                                 int64_t step) {
  const int64_t len = static_cast<int64_t>(n);
  auto clamp = [&](std::optional<int64_t> v, int64_t dflt, int64_t lo, int64_t hi) {
    if (!v) return dflt;
    int64_t x = *v < 0 ? *v + len : *v;
    return std::clamp(x, lo, hi);
  };
  std::vector<size_t> out;
  if (step > 0) {
    const int64_t b = clamp(start, 0, 0, len), e = clamp(stop, len, 0, len);
    for (int64_t i = b; i < e; i += step) out.push_back(static_cast<size_t>(i));
  } else {
    const int64_t b = clamp(start, len - 1, -1, len - 1), e = clamp(stop, -1, -1, len - 1);
    for (int64_t i = b; i > e; i += step) out.push_back(static_cast<size_t>(i));
  }
  return out;
}

}  // namespace hearth::model::jinja
