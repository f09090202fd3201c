#include "sampling/grammar/token_masker.h"

#include <gtest/gtest.h>

#include "sampling/grammar/compiled_grammar.h"
#include "sampling/grammar/json_schema_grammar.h"

namespace hearth::grammar {
namespace {

// A toy vocabulary: single characters, some words, a control token (empty) and end of text.
std::shared_ptr<const Vocabulary> ToyVocab() {
  auto v = std::make_shared<Vocabulary>();
  v->token_bytes = {"", "{", "}", "\"", "a", "ab", "\"a", "\":", "1", "12", " ", "true", "{\"", "\"}", "x", ""};
  v->end_tokens = {15};
  return v;
}

std::vector<int32_t> Allowed(GrammarMatcher& m, int32_t vocab) {
  std::vector<int32_t> out;
  const std::span<const uint64_t> mask = m.Mask();
  for (int32_t t = 0; t < vocab; ++t) {
    if (MaskHas(mask, t)) out.push_back(t);
  }
  return out;
}

TEST(TokenMaskerTest, AllowedTokensAreThoseWhoseBytesTheGrammarAccepts) {
  auto vocab = ToyVocab();
  GrammarCache cache(vocab);
  auto g = cache.Get(R"(root ::= "{\"a" [a-b]* "\":" [0-9]+ "}")");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  GrammarMatcher m(*g);
  EXPECT_EQ(Allowed(m, vocab->size()), (std::vector<int32_t>{1, 12}));
  ASSERT_TRUE(m.Accept(12));  // {"
  EXPECT_EQ(Allowed(m, vocab->size()), (std::vector<int32_t>{4, 5}));
  ASSERT_TRUE(m.Accept(5));  // ab
  EXPECT_EQ(Allowed(m, vocab->size()), (std::vector<int32_t>{3, 4, 5, 7}));  // '"' starts '":'
  ASSERT_TRUE(m.Accept(7));
  ASSERT_TRUE(m.Accept(9));
  EXPECT_EQ(Allowed(m, vocab->size()), (std::vector<int32_t>{2, 8, 9}));
  EXPECT_FALSE(m.IsComplete());
  ASSERT_TRUE(m.Accept(2));
  EXPECT_TRUE(m.IsComplete());
  EXPECT_EQ(Allowed(m, vocab->size()), (std::vector<int32_t>{15}));  // only the end of text
  EXPECT_TRUE(m.Accept(15));
  EXPECT_TRUE(m.IsDead());
}

TEST(TokenMaskerTest, ADisallowedTokenKillsTheMatcherAndADeadStateAllowsOnlyTheEnd) {
  auto vocab = ToyVocab();
  GrammarCache cache(vocab);
  auto g = cache.Get(R"(root ::= "ab")");
  ASSERT_TRUE(g.ok());
  GrammarMatcher m(*g);
  EXPECT_FALSE(m.Accept(14));
  EXPECT_TRUE(m.IsDead());
  EXPECT_EQ(Allowed(m, vocab->size()), (std::vector<int32_t>{15}));
  GrammarMatcher fresh(*g);
  EXPECT_FALSE(fresh.Accept(15));  // the end of text before the grammar is complete
}

TEST(TokenMaskerTest, CacheCompilesOnceAndEvictsTheLeastRecentlyUsed) {
  GrammarCache cache(ToyVocab(), 2);
  auto a = cache.Get("root ::= \"a\"");
  auto a2 = cache.Get("root ::= \"a\"");
  ASSERT_TRUE(a.ok() && a2.ok());
  EXPECT_EQ(a->get(), a2->get());
  ASSERT_TRUE(cache.Get("root ::= \"b\"").ok());
  ASSERT_TRUE(cache.Get("root ::= \"x\"").ok());
  EXPECT_EQ(cache.size(), 2u);
  auto a3 = cache.Get("root ::= \"a\"");
  ASSERT_TRUE(a3.ok());
  EXPECT_NE(a->get(), a3->get());
  EXPECT_FALSE(cache.Get("root ::= ").ok() && cache.Get("nope").ok());
}

TEST(TokenMaskerTest, JsonSchemaMaskNeverLeavesTheSchema) {
  auto vocab = ToyVocab();
  GrammarCache cache(vocab);
  auto text = JsonSchemaToGbnf(R"({"type":"object","properties":{"a":{"type":"boolean"}},"required":["a"]})");
  ASSERT_TRUE(text.ok());
  auto g = cache.Get(*text);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  // Greedy over the toy vocabulary: always take the highest allowed id; must end complete.
  GrammarMatcher m(*g);
  std::string out;
  for (int step = 0; step < 40 && !m.IsComplete(); ++step) {
    const std::vector<int32_t> allowed = Allowed(m, vocab->size());
    ASSERT_FALSE(allowed.empty());
    int32_t pick = allowed.front();
    for (int32_t t : allowed) {
      if (t != 10 && t != 15) pick = t;  // no whitespace, no end
    }
    ASSERT_TRUE(m.Accept(pick));
    out += vocab->token_bytes[pick];
  }
  EXPECT_EQ(out, "{\"a\":true}");
}

}  // namespace
}  // namespace hearth::grammar
