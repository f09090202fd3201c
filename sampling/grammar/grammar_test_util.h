// Test helper: whether a grammar text accepts a whole input.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "sampling/grammar/gbnf_parser.h"
#include "sampling/grammar/grammar_automaton.h"

namespace hearth::grammar {

inline bool GrammarAccepts(std::string_view grammar_text, std::string_view input) {
  auto g = ParseGbnf(grammar_text);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  if (!g.ok()) return false;
  GrammarAutomaton a(std::move(*g), GrammarLimits{});
  return a.IsAccepting(a.NextBytes(a.initial(), input));
}

}  // namespace hearth::grammar
