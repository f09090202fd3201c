// Splits a Jinja template into tokens: literal text, the delimiters of {{ }} and {% %}, and
// the expression tokens between them. Comments are dropped here, and whitespace control is
// applied here, as Hugging Face configures it: `-` on a delimiter strips all whitespace on
// that side, trim_blocks drops the first newline after a block or comment tag, lstrip_blocks
// drops the spaces and tabs before a block or comment tag that starts its line (`+` turns
// either off for one tag).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hearth::model::jinja {

enum class TokenKind {
  kText,        // literal template text
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kInt,
  kFloat,
  kString,      // text holds the unescaped value
  kOperator,    // text holds it: + - * / // % ** ~ == != < > <= >= = ( ) [ ] { } , . : |
  kEnd,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;
  int line = 1;
};

// Throws TemplateError (error.h) on an unterminated tag, string or comment, or an unknown
// character in a tag.
std::vector<Token> Lex(std::string_view source);

}  // namespace hearth::model::jinja
