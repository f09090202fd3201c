#include "model/jinja/lexer.h"

#include <cstring>

#include "common/utf8.h"
#include "model/jinja/error.h"

namespace hearth::model::jinja {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  EncodeUtf8(cp, out);
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  std::vector<Token> Run() {
    bool strip_next = false;  // a `-` closed the previous tag
    bool trim_next = false;   // trim_blocks: drop one newline after the previous tag
    while (pos_ < src_.size()) {
      const size_t start = pos_;
      size_t at = FindTagStart(pos_);
      std::string text(src_.substr(pos_, at - pos_));
      size_t text_start = start;
      if (strip_next) {
        size_t i = 0;
        while (i < text.size() && IsSpace(text[i])) ++i;
        text.erase(0, i);
        text_start += i;
      } else if (trim_next) {
        if (text.starts_with("\n")) {
          text.erase(0, 1);
          ++text_start;
        } else if (text.starts_with("\r\n")) {
          text.erase(0, 2);
          text_start += 2;
        }
      }
      strip_next = trim_next = false;
      if (at == src_.size()) {
        Emit(TokenKind::kText, std::move(text), start);
        break;
      }
      const char kind = src_[at + 1];
      const char mod = at + 2 < src_.size() ? src_[at + 2] : '\0';
      if (mod == '-') {
        while (!text.empty() && IsSpace(text.back())) text.pop_back();
      } else if (kind != '{' && mod != '+') {
        // lstrip_blocks: spaces and tabs alone between the line's start and the tag go.
        const size_t nl = text.rfind('\n');
        const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
        const bool line_start = nl != std::string::npos || text_start == 0 || src_[text_start - 1] == '\n';
        if (line_start && text.find_first_not_of(" \t", l_pos) == std::string::npos) text.erase(l_pos);
      }
      Emit(TokenKind::kText, std::move(text), start);
      pos_ = at + 2 + ((mod == '-' || mod == '+') ? 1 : 0);
      if (kind == '#') {
        const size_t end = src_.find("#}", pos_);
        if (end == std::string_view::npos) Fail(LineAt(at), "unterminated comment");
        strip_next = end > pos_ && src_[end - 1] == '-';
        trim_next = !strip_next && !(end > pos_ && src_[end - 1] == '+');
        pos_ = end + 2;
        continue;
      }
      const bool block = kind == '%';
      Emit(block ? TokenKind::kBlockBegin : TokenKind::kVarBegin, "", at);
      const char end_mod = LexTag(block, at);
      Emit(block ? TokenKind::kBlockEnd : TokenKind::kVarEnd, "", pos_);
      strip_next = end_mod == '-';
      trim_next = block && end_mod == '\0';
    }
    tokens_.push_back(Token{TokenKind::kEnd, "", line_});
    return std::move(tokens_);
  }

 private:
  size_t FindTagStart(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return src_.size();
  }

  int LineAt(size_t at) {
    while (line_pos_ < at && line_pos_ < src_.size()) {
      if (src_[line_pos_] == '\n') ++line_;
      ++line_pos_;
    }
    return line_;
  }

  void Emit(TokenKind kind, std::string text, size_t at) {
    if (kind == TokenKind::kText && text.empty()) return;
    tokens_.push_back(Token{kind, std::move(text), LineAt(at)});
  }

  // Expression tokens up to the closing delimiter; returns its modifier ('-', '+' or '\0')
  // and leaves pos_ after it.
  char LexTag(bool block, size_t tag_at) {
    const std::string_view close = block ? "%}" : "}}";
    int braces = 0;
    while (true) {
      while (pos_ < src_.size() && IsSpace(src_[pos_])) ++pos_;
      if (pos_ >= src_.size()) Fail(LineAt(tag_at), block ? "unterminated {% tag" : "unterminated {{ tag");
      const std::string_view rest = src_.substr(pos_);
      if (braces == 0) {
        if (rest.starts_with(close)) {
          pos_ += 2;
          return '\0';
        }
        if ((rest[0] == '-' || rest[0] == '+') && rest.substr(1).starts_with(close)) {
          pos_ += 3;
          return rest[0];
        }
      }
      const char c = rest[0];
      if (IsNameStart(c)) {
        size_t n = 1;
        while (n < rest.size() && IsNameChar(rest[n])) ++n;
        Emit(TokenKind::kName, std::string(rest.substr(0, n)), pos_);
        pos_ += n;
      } else if (IsDigit(c)) {
        LexNumber(rest);
      } else if (c == '\'' || c == '"') {
        LexString(c);
      } else {
        static constexpr const char* kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
        size_t n = 0;
        for (const char* op : kTwo) {
          if (rest.starts_with(op)) n = 2;
        }
        if (n == 0 && std::strchr("+-*/%~<>=()[]{},.:|", c) != nullptr) n = 1;
        if (n == 0) Fail(LineAt(pos_), std::string("unexpected character '") + c + "' in a tag");
        if (c == '{') ++braces;
        if (c == '}' && braces > 0) --braces;
        Emit(TokenKind::kOperator, std::string(rest.substr(0, n)), pos_);
        pos_ += n;
      }
    }
  }

  void LexNumber(std::string_view rest) {
    size_t n = 0;
    while (n < rest.size() && (IsDigit(rest[n]) || rest[n] == '_')) ++n;
    bool is_float = false;
    if (n + 1 < rest.size() && rest[n] == '.' && IsDigit(rest[n + 1])) {
      is_float = true;
      ++n;
      while (n < rest.size() && (IsDigit(rest[n]) || rest[n] == '_')) ++n;
    }
    if (n < rest.size() && (rest[n] == 'e' || rest[n] == 'E')) {
      size_t m = n + 1;
      if (m < rest.size() && (rest[m] == '+' || rest[m] == '-')) ++m;
      if (m < rest.size() && IsDigit(rest[m])) {
        is_float = true;
        n = m;
        while (n < rest.size() && IsDigit(rest[n])) ++n;
      }
    }
    std::string text;
    for (char ch : rest.substr(0, n)) {
      if (ch != '_') text.push_back(ch);
    }
    Emit(is_float ? TokenKind::kFloat : TokenKind::kInt, std::move(text), pos_);
    pos_ += n;
  }

  // Python's string escapes (Jinja unescapes literals as unicode-escape does).
  void LexString(char quote) {
    const size_t at = pos_;
    std::string out;
    size_t i = pos_ + 1;
    while (true) {
      if (i >= src_.size()) Fail(LineAt(at), "unterminated string literal");
      const char c = src_[i];
      if (c == quote) break;
      if (c != '\\' || i + 1 >= src_.size()) {
        out.push_back(c);
        ++i;
        continue;
      }
      const char e = src_[i + 1];
      i += 2;
      switch (e) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'v': out.push_back('\v'); break;
        case 'a': out.push_back('\a'); break;
        case '0': out.push_back('\0'); break;
        case '\\': case '\'': case '"': out.push_back(e); break;
        case '\n': break;
        case 'x': case 'u': case 'U': {
          const size_t len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          for (size_t k = 0; k < len; ++k) {
            const char h = i + k < src_.size() ? src_[i + k] : '\0';
            const int d = IsDigit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                                      : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
            if (d < 0) Fail(LineAt(at), "malformed \\" + std::string(1, e) + " escape in a string");
            cp = cp * 16 + static_cast<uint32_t>(d);
          }
          i += len;
          AppendUtf8(cp, &out);
          break;
        }
        default:
          out.push_back('\\');
          out.push_back(e);
      }
    }
    Emit(TokenKind::kString, std::move(out), at);
    pos_ = i + 1;
  }

  std::string_view src_;
  size_t pos_ = 0;
  std::vector<Token> tokens_;
  int line_ = 1;
  size_t line_pos_ = 0;  // LineAt has counted newlines before this offset
};

}  // namespace

std::vector<Token> Lex(std::string_view source) { return Lexer(source).Run(); }

}  // namespace hearth::model::jinja
