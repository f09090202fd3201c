// A grammar ready to constrain decoding against one vocabulary, the cache that compiles each
// grammar text once, and the per-sequence matcher the worker advances token by token.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"
#include "sampling/grammar/grammar_automaton.h"
#include "sampling/grammar/grammar_limits.h"
#include "sampling/grammar/token_masker.h"

namespace hearth::grammar {

struct CompiledGrammar {
  CompiledGrammar(GrammarAutomaton a, TokenMasker m) : automaton(std::move(a)), masker(std::move(m)) {}
  GrammarAutomaton automaton;
  TokenMasker masker;
};

// Grammar text -> CompiledGrammar for one vocabulary, least recently used dropped first.
// Sequences keep their grammar alive after it leaves the cache.
class GrammarCache {
 public:
  explicit GrammarCache(std::shared_ptr<const Vocabulary> vocab, size_t capacity = 8,
                        GrammarLimits limits = {});

  // InvalidArgument for a grammar ParseGbnf refuses (the daemon checked it already, so this is
  // a worker given a bad step).
  StatusOr<std::shared_ptr<CompiledGrammar>> Get(std::string_view text);

  size_t size() const { return entries_.size(); }

 private:
  using Entry = std::pair<std::string, std::shared_ptr<CompiledGrammar>>;
  std::shared_ptr<const Vocabulary> vocab_;
  std::shared_ptr<const VocabTrie> trie_;
  size_t capacity_;
  GrammarLimits limits_;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
};

// One sequence's position in its grammar.
class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<CompiledGrammar> grammar)
      : grammar_(std::move(grammar)), state_(grammar_->automaton.initial()) {}

  // Advances over `token`'s bytes. An end-of-text token, or one the grammar does not allow,
  // leaves the matcher dead; returns whether the token was allowed.
  bool Accept(int32_t token);
  std::span<const uint64_t> Mask() { return grammar_->masker.Mask(grammar_->automaton, state_); }
  bool IsComplete() const { return grammar_->automaton.IsAccepting(state_); }
  bool IsDead() const { return state_ == GrammarAutomaton::kDead; }

 private:
  std::shared_ptr<CompiledGrammar> grammar_;
  GrammarAutomaton::StateId state_;
};

}  // namespace hearth::grammar
