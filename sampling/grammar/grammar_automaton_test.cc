#include "sampling/grammar/grammar_automaton.h"

#include <gtest/gtest.h>

#include "common/check.h"
#include "sampling/grammar/gbnf_parser.h"

namespace hearth::grammar {
namespace {

GrammarAutomaton Build(std::string_view text, GrammarLimits limits = {}) {
  auto g = ParseGbnf(text, limits);
  CHECK(g.ok()) << g.status().ToString();
  return GrammarAutomaton(std::move(*g), limits);
}

TEST(GrammarAutomatonTest, PrefixesStayAliveAndOnlyWholeSentencesAccept) {
  GrammarAutomaton a = Build(R"(root ::= "ab" | "abc" "d"*)");
  auto s = a.NextBytes(a.initial(), "ab");
  EXPECT_TRUE(a.IsAccepting(s));
  EXPECT_TRUE(a.CanContinue(s));
  s = a.Next(s, 'c');
  EXPECT_TRUE(a.IsAccepting(s));
  EXPECT_EQ(a.NextBytes(s, "dddd"), a.NextBytes(s, "d"));  // the loop is one state
  EXPECT_EQ(a.Next(s, 'x'), GrammarAutomaton::kDead);
  EXPECT_FALSE(a.IsAccepting(a.Next(a.initial(), 'a')));
}

TEST(GrammarAutomatonTest, RightRecursionRunsInConstantState) {
  GrammarAutomaton a = Build("root ::= item root | \"\"\nitem ::= \"x\" \",\"");
  auto s = a.initial();
  for (int i = 0; i < 10000; ++i) s = a.NextBytes(s, "x,");
  EXPECT_TRUE(a.IsAccepting(s));
  EXPECT_LE(a.num_states(), 3u);
}

TEST(GrammarAutomatonTest, NestingDeeperThanTheLimitEndsTheMatch) {
  GrammarLimits limits;
  limits.max_stack_depth = 50;
  GrammarAutomaton a = Build("root ::= \"[\" root \"]\" | \"x\"", limits);
  auto s = a.initial();
  for (int i = 0; i < 40; ++i) s = a.Next(s, '[');
  EXPECT_NE(s, GrammarAutomaton::kDead);
  for (int i = 0; i < 20 && s != GrammarAutomaton::kDead; ++i) s = a.Next(s, '[');
  EXPECT_EQ(s, GrammarAutomaton::kDead);
}

TEST(GrammarAutomatonTest, AmbiguityIsBoundedByTheStackLimit) {
  // Every 'a' can end any of 100 alternatives: the stack set stays small because equal stacks
  // are one; a grammar that really needs more stacks than the limit is cut off, not grown.
  std::string text = "root ::= ";
  for (int i = 0; i < 100; ++i) text += (i ? " | " : "") + std::string("\"a\"{0,") + std::to_string(i + 1) + "} \"b\"";
  GrammarAutomaton a = Build(text);
  auto s = a.NextBytes(a.initial(), "aaa");
  EXPECT_NE(s, GrammarAutomaton::kDead);
  EXPECT_TRUE(a.IsAccepting(a.Next(s, 'b')));
  GrammarLimits tight;
  tight.max_stacks = 16;
  GrammarAutomaton cut = Build(text, tight);
  EXPECT_EQ(cut.NextBytes(cut.initial(), "aaa"), GrammarAutomaton::kDead);
}

TEST(GrammarAutomatonTest, StateCountIsBounded) {
  GrammarLimits limits;
  limits.max_states = 10;
  GrammarAutomaton a = Build("root ::= [a-z]{0,100}", limits);
  EXPECT_EQ(a.NextBytes(a.initial(), std::string(50, 'q')), GrammarAutomaton::kDead);
  EXPECT_LE(a.num_states(), 10u);
}

}  // namespace
}  // namespace hearth::grammar
