#include "sampling/grammar/gbnf_parser.h"

#include <gtest/gtest.h>

#include "sampling/grammar/grammar_test_util.h"

namespace hearth::grammar {
namespace {

std::string ErrorOf(std::string_view text, const GrammarLimits& limits = {}) {
  auto g = ParseGbnf(text, limits);
  return g.ok() ? "" : g.status().message();
}

TEST(GbnfParserTest, SequencesAlternativesGroupsAndRepetition) {
  const char* g = R"(root ::= greeting ("," " "? name)+ "!"   # a comment
greeting ::= "hi" | "hello"
name ::= [A-Z] [a-z]*)";
  EXPECT_TRUE(GrammarAccepts(g, "hi,Bob!"));
  EXPECT_TRUE(GrammarAccepts(g, "hello, Ann,Z!"));
  EXPECT_FALSE(GrammarAccepts(g, "hello!"));
  EXPECT_FALSE(GrammarAccepts(g, "hey,Bob!"));
  EXPECT_FALSE(GrammarAccepts(g, "hi,bob!"));
}

TEST(GbnfParserTest, BoundedRepetition) {
  EXPECT_TRUE(GrammarAccepts("root ::= [0-9]{2,4}", "12"));
  EXPECT_TRUE(GrammarAccepts("root ::= [0-9]{2,4}", "1234"));
  EXPECT_FALSE(GrammarAccepts("root ::= [0-9]{2,4}", "1"));
  EXPECT_FALSE(GrammarAccepts("root ::= [0-9]{2,4}", "12345"));
  EXPECT_TRUE(GrammarAccepts("root ::= \"ab\"{3}", "ababab"));
  EXPECT_FALSE(GrammarAccepts("root ::= \"ab\"{3}", "abab"));
  EXPECT_TRUE(GrammarAccepts("root ::= \"x\"{2,}", "xxxxxxx"));
  EXPECT_FALSE(GrammarAccepts("root ::= \"x\"{2,}", "x"));
}

TEST(GbnfParserTest, ClassesNegationEscapesAndUnicode) {
  EXPECT_TRUE(GrammarAccepts(R"(root ::= "\"" [^"\\]* "\"")", "\"h\xC3\xA9llo \xE2\x82\xAC\""));
  EXPECT_FALSE(GrammarAccepts(R"(root ::= "\"" [^"\\]* "\"")", "\"a\"b\""));
  EXPECT_TRUE(GrammarAccepts(R"(root ::= [а-я]+)", "\xD0\xBF\xD1\x80\xD0\xB8"));  // "при"
  EXPECT_FALSE(GrammarAccepts(R"(root ::= [а-я]+)", "abc"));
  EXPECT_TRUE(GrammarAccepts(R"(root ::= "\x41\u00e9\n\t")", "A\xC3\xA9\n\t"));
  EXPECT_TRUE(GrammarAccepts(R"(root ::= [\-\]]+)", "-]-"));
  EXPECT_TRUE(GrammarAccepts("root ::= . .", "a\xE2\x82\xAC"));
  // A lone continuation byte is not a character.
  EXPECT_FALSE(GrammarAccepts("root ::= .", "\x80"));
}

TEST(GbnfParserTest, ContinuationLinesAndNestedNewlines) {
  const char* g = "root ::= \"a\"\n  | \"b\"\nother ::= (\n  \"c\" |\n  \"d\"\n)";
  EXPECT_TRUE(GrammarAccepts(g, "b"));
  EXPECT_FALSE(GrammarAccepts(g, "c"));
}

TEST(GbnfParserTest, EmptyAlternativesAndRightRecursion) {
  EXPECT_TRUE(GrammarAccepts("root ::= \"(\" root \")\" root | \"\"", "(()(()))"));
  EXPECT_FALSE(GrammarAccepts("root ::= \"(\" root \")\" root | \"\"", "(()"));
}

TEST(GbnfParserTest, ErrorsNameTheLineAndTheProblem) {
  EXPECT_NE(ErrorOf("root ::= \"a\"\nfoo ::= bar").find("'bar' is used but never defined"), std::string::npos);
  EXPECT_NE(ErrorOf("x ::= \"a\"").find("no 'root'"), std::string::npos);
  EXPECT_NE(ErrorOf("root ::= \"a").find("line 1: unterminated string"), std::string::npos);
  EXPECT_NE(ErrorOf("root ::= \"a\"\n\nroot ::= \"b\"").find("line 3: rule 'root' is defined twice"),
            std::string::npos);
  EXPECT_NE(ErrorOf("root ::= [z-a]").find("end is before its start"), std::string::npos);
  EXPECT_NE(ErrorOf("root ::= \"\\q\"").find("unknown escape"), std::string::npos);
  EXPECT_NE(ErrorOf("root ::= \"a\"{5,2}").find("n < m"), std::string::npos);
  EXPECT_NE(ErrorOf("root = \"a\"").find("expected '::='"), std::string::npos);
  EXPECT_NE(ErrorOf("root ::= (\"a\"").find("expected ')'"), std::string::npos);
  EXPECT_NE(ErrorOf("root ::= \"\\uD800\"").find("not a Unicode scalar"), std::string::npos);
  EXPECT_NE(ErrorOf("root ::= \"\xFF\"").find("not valid UTF-8"), std::string::npos);
}

TEST(GbnfParserTest, LeftRecursionIsRefused) {
  EXPECT_NE(ErrorOf("root ::= root \"a\" | \"b\"").find("'root' is left-recursive"), std::string::npos);
  // Indirect, and through a rule that can match nothing.
  EXPECT_NE(ErrorOf("root ::= x\nx ::= e y \"a\"\ny ::= x | \"b\"\ne ::= \"\" | \"c\"").find("left-recursive"),
            std::string::npos);
}

TEST(GbnfParserTest, HostileSizesAreRefusedNotExpanded) {
  GrammarLimits limits;
  EXPECT_NE(ErrorOf("root ::= \"a\"{1001}").find("over 1000"), std::string::npos);
  EXPECT_NE(ErrorOf(std::string(limits.max_text_bytes + 1, ' ')).find("over the limit"), std::string::npos);
  std::string deep = "root ::= " + std::string(100, '(') + "\"a\"" + std::string(100, ')');
  EXPECT_NE(ErrorOf(deep).find("nested deeper than 64"), std::string::npos);
  // Repetitions of repetitions stay within the element budget instead of multiplying out.
  limits.max_rules = 100;
  EXPECT_NE(ErrorOf("root ::= ((\"a\"{0,90}){0,90})", limits).find("more than 100 rules"), std::string::npos);
}

}  // namespace
}  // namespace hearth::grammar
