// Each splitter walks code points with the same alternation order as its regex; a "word" ends
// where the first alternative that matches at the current position stops.
#include "model/pretokenize.h"

#include <string>

#include "model/unicode.h"

namespace hearth::model {
namespace {

constexpr uint32_t kOutOfRange = 0xFFFFFFFF;
constexpr uint16_t kWsLetterNumber = kCpWhitespace | kCpLetter | kCpNumber;

// A view of code points [lo, hi) that answers 0 / kOutOfRange past its ends, so lookahead
// needs no bounds checks, and that records where each word ends.
class Cursor {
 public:
  Cursor(const std::vector<uint32_t>& cps, size_t lo, size_t hi, std::vector<size_t>* ends)
      : cps_(cps), lo_(lo), hi_(hi), ends_(ends) {}

  uint32_t Cp(size_t i) const { return i >= lo_ && i < hi_ ? cps_[i] : kOutOfRange; }
  uint16_t Flags(size_t i) const { return i >= lo_ && i < hi_ ? CodepointFlagsOf(cps_[i]) : 0; }
  size_t hi() const { return hi_; }
  void EndWordAt(size_t end) { ends_->push_back(end); }

 private:
  const std::vector<uint32_t>& cps_;
  size_t lo_, hi_;
  std::vector<size_t>* ends_;
};

uint32_t AsciiLower(uint32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// Length of a contraction ('s 't 're 've 'm 'll 'd) at pos, or 0. `fold` makes it case
// insensitive (ASCII only: no other letter lowercases to s, t, r, e, v, m, l or d).
size_t ContractionAt(const Cursor& c, size_t pos, bool fold) {
  if (c.Cp(pos) != '\'') return 0;
  auto at = [&](size_t i) { return fold ? AsciiLower(c.Cp(i)) : c.Cp(i); };
  const uint32_t a = at(pos + 1), b = at(pos + 2);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

size_t SkipWhile(const Cursor& c, size_t pos, uint16_t any_of) {
  while (c.Flags(pos) & any_of) ++pos;
  return pos;
}

// [^\s\p{L}\p{N}]+ from pos (stops at the end of the range too).
size_t SkipOther(const Cursor& c, size_t pos) {
  for (uint16_t f = c.Flags(pos); f != 0 && !(f & kWsLetterNumber); f = c.Flags(++pos)) {
  }
  return pos;
}

// \s+(?!\S)|\s+ at pos, where pos is known not to start any earlier alternative.
size_t WhitespaceEnd(const Cursor& c, size_t pos) {
  const size_t end = SkipWhile(c, pos, kCpWhitespace);
  const size_t n = end - pos;
  if (n > 1 && end < c.hi()) return end - 1;  // leave the last space to prefix the next word
  if (n > 0) return end;
  return pos + 1;  // matches nothing: a one-code-point word
}

size_t Gpt2WordEnd(const Cursor& c, size_t pos) {
  if (size_t n = ContractionAt(c, pos, /*fold=*/false)) return pos + n;
  const bool space = c.Cp(pos) == ' ';
  const uint16_t f = c.Flags(space ? pos + 1 : pos);
  const size_t start = space ? pos + 1 : pos;
  if (f & kCpLetter) return SkipWhile(c, start, kCpLetter);
  if (f & kCpNumber) return SkipWhile(c, start, kCpNumber);
  if (f != 0 && !(f & kWsLetterNumber)) return SkipOther(c, start);
  return WhitespaceEnd(c, pos);
}

bool IsNewline(uint32_t cp) { return cp == '\r' || cp == '\n'; }

size_t Llama3WordEnd(const Cursor& c, size_t pos, size_t max_digits) {
  if (size_t n = ContractionAt(c, pos, /*fold=*/true)) return pos + n;
  const uint32_t cp = c.Cp(pos);
  const uint16_t f = c.Flags(pos);
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (!IsNewline(cp) && !(f & kCpNumber) && ((f & kCpLetter) || (c.Flags(pos + 1) & kCpLetter))) {
    return SkipWhile(c, pos + 1, kCpLetter);
  }
  if (f & kCpNumber) {  // \p{N}{1,max_digits}
    size_t end = pos;
    while (end - pos < max_digits && (c.Flags(end) & kCpNumber)) ++end;
    return end;
  }
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  const bool space = cp == ' ';
  const uint16_t f2 = c.Flags(space ? pos + 1 : pos);
  if (f2 != 0 && !(f2 & kWsLetterNumber)) {
    size_t end = SkipOther(c, space ? pos + 1 : pos);
    while (IsNewline(c.Cp(end))) ++end;
    return end;
  }
  // \s*[\r\n]+ : all whitespace up to and including the last newline in the run.
  const size_t ws_end = SkipWhile(c, pos, kCpWhitespace);
  for (size_t i = ws_end; i > pos; --i) {
    if (IsNewline(c.Cp(i - 1))) return i;
  }
  return WhitespaceEnd(c, pos);
}

void SplitRange(PreTokenizer kind, const std::vector<uint32_t>& cps, size_t lo, size_t hi,
                std::vector<size_t>* ends) {
  Cursor c(cps, lo, hi, ends);
  for (size_t pos = lo; pos < hi;) {
    switch (kind) {
      case PreTokenizer::kGpt2:
      case PreTokenizer::kSmolLm:
        pos = Gpt2WordEnd(c, pos);
        break;
      case PreTokenizer::kLlama3:
        pos = Llama3WordEnd(c, pos, 3);
        break;
      case PreTokenizer::kQwen2:
        pos = Llama3WordEnd(c, pos, 1);
        break;
    }
    c.EndWordAt(pos);
  }
}

}  // namespace

StatusOr<PreTokenizer> PreTokenizerFromName(std::string_view name) {
  // Names as llama.cpp's converter writes them; several share one regex.
  if (name == "gpt2" || name == "default" || name == "gpt-2" || name == "mpt" || name == "olmo" ||
      name == "jais") {
    return PreTokenizer::kGpt2;
  }
  if (name == "llama3" || name == "llama-bpe" || name == "llama-v3" || name == "falcon3" ||
      name == "pixtral") {
    return PreTokenizer::kLlama3;
  }
  if (name == "qwen2" || name == "deepseek-r1-qwen" || name == "stablelm2") {
    return PreTokenizer::kQwen2;
  }
  if (name == "smollm" || name == "starcoder" || name == "refact" || name == "command-r" ||
      name == "codeshell" || name == "exaone" || name == "minerva-7b") {
    return PreTokenizer::kSmolLm;
  }
  return Status::Unimplemented("unsupported pre-tokenizer '" + std::string(name) + "'");
}

const char* PreTokenizerName(PreTokenizer kind) {
  switch (kind) {
    case PreTokenizer::kGpt2: return "gpt2";
    case PreTokenizer::kLlama3: return "llama3";
    case PreTokenizer::kQwen2: return "qwen2";
    case PreTokenizer::kSmolLm: return "smollm";
  }
  return "?";
}

std::vector<std::string_view> PreTokenize(PreTokenizer kind, std::string_view text) {
  const DecodedText d = DecodeUtf8(text);
  const size_t n = d.cps.size();
  std::vector<size_t> ends;  // code point index where each word ends
  ends.reserve(n / 3 + 4);
  if (kind == PreTokenizer::kSmolLm) {
    // First split: each \p{N} code point alone, runs of anything else between them.
    size_t run_start = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!IsNumber(d.cps[i])) continue;
      SplitRange(kind, d.cps, run_start, i, &ends);
      ends.push_back(i + 1);
      run_start = i + 1;
    }
    SplitRange(kind, d.cps, run_start, n, &ends);
  } else {
    SplitRange(kind, d.cps, 0, n, &ends);
  }
  std::vector<std::string_view> words;
  words.reserve(ends.size());
  size_t begin = 0;
  for (size_t end : ends) {
    words.push_back(text.substr(d.offsets[begin], d.offsets[end] - d.offsets[begin]));
    begin = end;
  }
  return words;
}

}  // namespace hearth::model
