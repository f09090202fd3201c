#include "model/jinja/lexer.h"

#include <gtest/gtest.h>

#include "model/jinja/error.h"

namespace hearth::model::jinja {
namespace {

std::string Texts(std::string_view src) {
  std::string out;
  for (const Token& t : Lex(src)) {
    if (t.kind == TokenKind::kText) out += "[" + t.text + "]";
  }
  return out;
}

TEST(LexerTest, WhitespaceControl) {
  EXPECT_EQ(Texts("a  {{- x -}}  b"), "[a][b]");
  // trim_blocks: one newline after a block tag goes; lstrip_blocks: indentation before it goes.
  EXPECT_EQ(Texts("a\n  {% if x %}\nb\n  {% endif %}\nc"), "[a\n][b\n][c]");
  EXPECT_EQ(Texts("a {% if x %}b"), "[a ][b]");  // not at a line start: kept
  EXPECT_EQ(Texts("a\n  {%+ if x %}b"), "[a\n  ][b]");
  EXPECT_EQ(Texts("{{ x }}\nb"), "[\nb]");  // no trim after {{ }}
  EXPECT_EQ(Texts("a\n  {# c #}\nb"), "[a\n][b]");
}

TEST(LexerTest, ExpressionTokens) {
  auto toks = Lex("{{ '}}' ~ \"a\\n\\u00e9\" + 1.5 // x[1:] }}");
  std::vector<std::string> texts;
  for (const Token& t : toks) texts.push_back(t.text);
  ASSERT_EQ(toks.size(), 14u);
  EXPECT_EQ(toks[1].kind, TokenKind::kString);
  EXPECT_EQ(toks[1].text, "}}");
  EXPECT_EQ(toks[3].text, "a\n\xc3\xa9");
  EXPECT_EQ(toks[5].kind, TokenKind::kFloat);
  EXPECT_EQ(toks[6].text, "//");
  EXPECT_EQ(toks[12].kind, TokenKind::kVarEnd);
}

TEST(LexerTest, LinesAndErrors) {
  auto toks = Lex("a\nb\n{{ x }}");
  EXPECT_EQ(toks[1].line, 3);
  EXPECT_THROW(Lex("{{ x "), TemplateError);
  EXPECT_THROW(Lex("{{ 'abc }}"), TemplateError);
  EXPECT_THROW(Lex("{# never closed"), TemplateError);
  EXPECT_THROW(Lex("{{ a ; b }}"), TemplateError);
}

}  // namespace
}  // namespace hearth::model::jinja
