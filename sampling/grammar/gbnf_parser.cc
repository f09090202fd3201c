#include "sampling/grammar/gbnf_parser.h"

#include <map>
#include <string>
#include <vector>

#include "sampling/grammar/utf8_ranges.h"

namespace hearth::grammar {
namespace {

using Sequence = std::vector<Element>;

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Parser {
 public:
  Parser(std::string_view text, const GrammarLimits& limits) : text_(text), limits_(limits) {}

  StatusOr<Grammar> Run() {
    if (text_.size() > limits_.max_text_bytes) {
      return Status::InvalidArgument("the grammar is " + std::to_string(text_.size()) + " bytes, over the limit of " +
                                     std::to_string(limits_.max_text_bytes));
    }
    SkipSpace(true);
    while (ok_ && pos_ < text_.size()) {
      ParseRule();
      SkipSpace(true);
    }
    if (!ok_) return Status::InvalidArgument(error_);
    auto root = names_.find("root");
    g_.root = root == names_.end() ? -1 : root->second;
    for (int32_t r = 0; r < g_.num_rules(); ++r) {
      if (g_.alternatives[r].empty())
        return Status::InvalidArgument("grammar: rule '" + g_.rule_names[r] + "' is used but never defined");
    }
    HEARTH_RETURN_IF_ERROR(CheckGrammar(g_));
    return std::move(g_);
  }

 private:
  bool Fail(const std::string& what) {
    if (ok_) {
      int line = 1;
      for (size_t i = 0; i < pos_ && i < text_.size(); ++i) line += text_[i] == '\n';
      error_ = "grammar line " + std::to_string(line) + ": " + what;
      ok_ = false;
    }
    return false;
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }

  void SkipSpace(bool newline_ok) {
    while (!AtEnd()) {
      const char c = text_[pos_];
      if (c == ' ' || c == '\t' || (newline_ok && (c == '\n' || c == '\r'))) {
        ++pos_;
      } else if (c == '#') {
        while (!AtEnd() && text_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  std::string ParseName() {
    const size_t start = pos_;
    while (!AtEnd() && IsNameChar(text_[pos_])) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  int32_t NewRule(const std::string& name) {
    if (g_.num_rules() >= limits_.max_rules) {
      Fail("more than " + std::to_string(limits_.max_rules) + " rules (after expanding repetitions)");
      return 0;
    }
    g_.alternatives.emplace_back();
    g_.rule_names.push_back(name);
    return g_.num_rules() - 1;
  }

  int32_t NamedRule(const std::string& name) {
    auto it = names_.find(name);
    if (it != names_.end()) return it->second;
    const int32_t id = NewRule(name);
    if (ok_) names_[name] = id;
    return id;
  }

  // Gives rule `id` its alternatives (appended to the element table).
  void Define(int32_t id, const std::vector<Sequence>& alts) {
    if (!ok_) return;
    for (const Sequence& seq : alts) {
      if (g_.elements.size() + seq.size() + 1 > static_cast<size_t>(limits_.max_elements)) {
        Fail("more than " + std::to_string(limits_.max_elements) + " grammar elements (after expansion)");
        return;
      }
      g_.alternatives[id].push_back(static_cast<int32_t>(g_.elements.size()));
      g_.elements.insert(g_.elements.end(), seq.begin(), seq.end());
      g_.elements.push_back(Element{});
    }
  }

  int32_t AnonymousRule(const std::vector<Sequence>& alts) {
    const int32_t id = NewRule(current_rule_ + "#" + std::to_string(++num_generated_));
    Define(id, alts);
    return id;
  }

  Element Bytes(const ByteSet& set) {
    auto it = byte_set_ids_.find(set.bits);
    if (it != byte_set_ids_.end()) return Element{Element::Kind::kBytes, it->second};
    const int32_t id = static_cast<int32_t>(g_.byte_sets.size());
    g_.byte_sets.push_back(set);
    byte_set_ids_[set.bits] = id;
    return Element{Element::Kind::kBytes, id};
  }

  Element Byte(uint8_t b) {
    ByteSet s;
    s.Add(b);
    return Bytes(s);
  }

  void ParseRule() {
    if (!IsNameChar(Peek())) {
      Fail("expected a rule name");
      return;
    }
    const std::string name = ParseName();
    current_rule_ = name;
    SkipSpace(false);
    if (text_.substr(pos_, 3) != "::=") {
      Fail("expected '::=' after '" + name + "'");
      return;
    }
    pos_ += 3;
    SkipSpace(true);
    const int32_t id = NamedRule(name);
    if (!ok_) return;
    if (!defined_.insert({name, true}).second) {
      Fail("rule '" + name + "' is defined twice");
      return;
    }
    std::vector<Sequence> alts = ParseAlternatives(false, 0);
    Define(id, alts);
  }

  std::vector<Sequence> ParseAlternatives(bool nested, int depth) {
    std::vector<Sequence> alts;
    alts.push_back(ParseSequence(nested, depth));
    while (ok_) {
      if (Peek() == '|') {
        ++pos_;
        SkipSpace(true);
        alts.push_back(ParseSequence(nested, depth));
        continue;
      }
      if (!nested) {
        // A top-level rule goes on when its next line starts with '|'.
        const size_t save = pos_;
        SkipSpace(true);
        if (Peek() == '|') continue;
        pos_ = save;
      }
      break;
    }
    return alts;
  }

  Sequence ParseSequence(bool nested, int depth) {
    Sequence seq;
    while (ok_ && !AtEnd()) {
      const size_t item_start = seq.size();
      const char c = Peek();
      if (c == '"') {
        ++pos_;
        ParseLiteral(&seq);
      } else if (c == '[') {
        ++pos_;
        ParseClass(&seq);
      } else if (c == '.') {
        ++pos_;
        AppendClass(NormalizeRanges({}, true), &seq);
      } else if (c == '(') {
        if (depth + 1 > limits_.max_nesting) {
          Fail("parentheses nested deeper than " + std::to_string(limits_.max_nesting));
          break;
        }
        ++pos_;
        SkipSpace(true);
        std::vector<Sequence> alts = ParseAlternatives(true, depth + 1);
        if (!ok_) break;
        if (Peek() != ')') {
          Fail("expected ')'");
          break;
        }
        ++pos_;
        seq.push_back(Element{Element::Kind::kRule, AnonymousRule(alts)});
      } else if (IsNameChar(c)) {
        const std::string name = ParseName();
        seq.push_back(Element{Element::Kind::kRule, NamedRule(name)});
      } else {
        break;
      }
      if (!ok_) break;
      SkipSpace(nested);
      ParsePostfix(item_start, &seq);
      SkipSpace(nested);
    }
    return seq;
  }

  // Makes the item seq[item_start..] one element.
  Element TakeItem(size_t item_start, Sequence* seq) {
    if (seq->size() == item_start + 1) {
      Element e = seq->back();
      seq->pop_back();
      return e;
    }
    Sequence item(seq->begin() + static_cast<ptrdiff_t>(item_start), seq->end());
    seq->resize(item_start);
    return Element{Element::Kind::kRule, AnonymousRule({item})};
  }

  bool ParseCount(int32_t* out) {
    if (Peek() < '0' || Peek() > '9') return Fail("expected a number in {m,n}");
    int64_t v = 0;
    while (Peek() >= '0' && Peek() <= '9') {
      v = v * 10 + (Peek() - '0');
      if (v > limits_.max_repeat) return Fail("a repetition count over " + std::to_string(limits_.max_repeat));
      ++pos_;
    }
    *out = static_cast<int32_t>(v);
    return true;
  }

  void ParsePostfix(size_t item_start, Sequence* seq) {
    while (ok_ && seq->size() > item_start) {
      const char c = Peek();
      int32_t min = 0, max = -1;  // -1: unbounded
      if (c == '*') {
        ++pos_;
      } else if (c == '+') {
        ++pos_;
        min = 1;
      } else if (c == '?') {
        ++pos_;
        max = 1;
      } else if (c == '{') {
        ++pos_;
        SkipSpace(false);
        if (!ParseCount(&min)) return;
        SkipSpace(false);
        max = min;
        if (Peek() == ',') {
          ++pos_;
          SkipSpace(false);
          max = -1;
          if (Peek() != '}' && !ParseCount(&max)) return;
          SkipSpace(false);
        }
        if (Peek() != '}') {
          Fail("expected '}'");
          return;
        }
        ++pos_;
        if (max != -1 && max < min) {
          Fail("{m,n} with n < m");
          return;
        }
      } else {
        return;
      }
      const Element x = TakeItem(item_start, seq);
      Repeat(x, min, max, seq);
      if (!ok_) return;
      // A further postfix applies to the whole repetition.
      if (seq->size() > item_start + 1) {
        const Element whole = TakeItem(item_start, seq);
        seq->push_back(whole);
      }
      SkipSpace(false);
    }
  }

  void Repeat(const Element& x, int32_t min, int32_t max, Sequence* seq) {
    if (static_cast<int64_t>(seq->size()) + min > limits_.max_elements) {
      Fail("a repetition too large to expand");
      return;
    }
    for (int32_t i = 0; i < min; ++i) seq->push_back(x);
    if (max == -1) {
      // star ::= x star | (empty): right recursion, which the matcher runs in constant depth.
      const int32_t star = NewRule(current_rule_ + "#" + std::to_string(++num_generated_));
      Define(star, {{x, Element{Element::Kind::kRule, star}}, {}});
      seq->push_back(Element{Element::Kind::kRule, star});
      return;
    }
    // opt_k ::= x opt_{k+1} | (empty), built from the innermost outwards.
    int32_t inner = -1;
    for (int32_t k = max - min; k > 0 && ok_; --k) {
      Sequence body{x};
      if (inner >= 0) body.push_back(Element{Element::Kind::kRule, inner});
      inner = AnonymousRule({body, {}});
    }
    if (inner >= 0) seq->push_back(Element{Element::Kind::kRule, inner});
  }

  // One code point from the text (raw UTF-8 or an escape); false at a malformed one.
  bool ParseChar(uint32_t* cp) {
    if (AtEnd()) return Fail("unexpected end of the grammar");
    const auto c = static_cast<uint8_t>(text_[pos_]);
    if (c == '\\') {
      ++pos_;
      if (AtEnd()) return Fail("an escape at the end of the grammar");
      const char e = text_[pos_++];
      switch (e) {
        case 'n': *cp = '\n'; return true;
        case 'r': *cp = '\r'; return true;
        case 't': *cp = '\t'; return true;
        case '\\': case '"': case '\'': case '[': case ']': case '-': case '/': case '^':
          *cp = static_cast<uint8_t>(e);
          return true;
        case 'x': return ParseHex(2, cp);
        case 'u': return ParseHex(4, cp);
        case 'U': return ParseHex(8, cp);
        default: return Fail(std::string("unknown escape '\\") + e + "'");
      }
    }
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || pos_ + len > text_.size()) return Fail("the grammar is not valid UTF-8");
    uint32_t v = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int i = 1; i < len; ++i) {
      const auto b = static_cast<uint8_t>(text_[pos_ + i]);
      if ((b & 0xC0) != 0x80) return Fail("the grammar is not valid UTF-8");
      v = (v << 6) | (b & 0x3F);
    }
    pos_ += len;
    *cp = v;
    return true;
  }

  bool ParseHex(int digits, uint32_t* cp) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i) {
      const int h = AtEnd() ? -1 : HexValue(text_[pos_]);
      if (h < 0) return Fail("expected " + std::to_string(digits) + " hex digits in an escape");
      v = v * 16 + static_cast<uint32_t>(h);
      ++pos_;
    }
    if (v > kMaxCodePoint || (v >= 0xD800 && v <= 0xDFFF)) return Fail("an escape that is not a Unicode scalar value");
    *cp = v;
    return true;
  }

  void ParseLiteral(Sequence* seq) {
    std::vector<uint8_t> bytes;
    while (ok_) {
      if (AtEnd()) {
        Fail("unterminated string literal");
        return;
      }
      if (Peek() == '"') {
        ++pos_;
        break;
      }
      uint32_t cp = 0;
      if (!ParseChar(&cp)) return;
      AppendUtf8(cp, &bytes);
    }
    if (seq->size() + bytes.size() > static_cast<size_t>(limits_.max_elements)) {
      Fail("a string literal too long");
      return;
    }
    for (uint8_t b : bytes) seq->push_back(Byte(b));
  }

  void ParseClass(Sequence* seq) {
    bool negate = false;
    if (Peek() == '^') {
      negate = true;
      ++pos_;
    }
    std::vector<CodePointRange> ranges;
    while (ok_) {
      if (AtEnd()) {
        Fail("unterminated character class");
        return;
      }
      if (Peek() == ']') {
        ++pos_;
        break;
      }
      uint32_t lo = 0, hi = 0;
      if (!ParseChar(&lo)) return;
      hi = lo;
      if (Peek() == '-' && pos_ + 1 < text_.size() && text_[pos_ + 1] != ']') {
        ++pos_;
        if (!ParseChar(&hi)) return;
        if (hi < lo) {
          Fail("a character range whose end is before its start");
          return;
        }
      }
      ranges.push_back({lo, hi});
    }
    AppendClass(NormalizeRanges(std::move(ranges), negate), seq);
  }

  // A class of code points: one byte-set element when it is all ASCII, else a rule whose
  // alternatives are the UTF-8 shapes.
  void AppendClass(const std::vector<CodePointRange>& ranges, Sequence* seq) {
    if (ranges.empty()) {
      Fail("a character class that matches nothing");
      return;
    }
    ByteSet single;
    bool has_single = false;
    std::vector<Sequence> alts;
    for (const Utf8Sequence& shape : Utf8Sequences(ranges)) {
      if (shape.size() == 1) {
        single.AddRange(shape[0].first, shape[0].second);
        has_single = true;
        continue;
      }
      Sequence alt;
      for (auto [lo, hi] : shape) {
        ByteSet s;
        s.AddRange(lo, hi);
        alt.push_back(Bytes(s));
      }
      alts.push_back(std::move(alt));
    }
    if (alts.empty()) {
      seq->push_back(Bytes(single));
      return;
    }
    if (has_single) alts.insert(alts.begin(), Sequence{Bytes(single)});
    seq->push_back(Element{Element::Kind::kRule, AnonymousRule(alts)});
  }

  std::string_view text_;
  const GrammarLimits& limits_;
  size_t pos_ = 0;
  bool ok_ = true;
  std::string error_;
  Grammar g_;
  std::map<std::string, int32_t> names_;
  std::map<std::string, bool> defined_;
  std::map<std::array<uint64_t, 4>, int32_t> byte_set_ids_;
  std::string current_rule_;
  int num_generated_ = 0;
};

}  // namespace

StatusOr<Grammar> ParseGbnf(std::string_view text, const GrammarLimits& limits) {
  return Parser(text, limits).Run();
}

}  // namespace hearth::grammar
