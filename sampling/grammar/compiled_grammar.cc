#include "sampling/grammar/compiled_grammar.h"

#include "sampling/grammar/gbnf_parser.h"

namespace hearth::grammar {

GrammarCache::GrammarCache(std::shared_ptr<const Vocabulary> vocab, size_t capacity, GrammarLimits limits)
    : vocab_(std::move(vocab)),
      trie_(std::make_shared<VocabTrie>(*vocab_)),
      capacity_(capacity == 0 ? 1 : capacity),
      limits_(limits) {}

StatusOr<std::shared_ptr<CompiledGrammar>> GrammarCache::Get(std::string_view text) {
  auto found = index_.find(text);
  if (found != index_.end()) {
    entries_.splice(entries_.begin(), entries_, found->second);
    return found->second->second;
  }
  HEARTH_ASSIGN_OR_RETURN(Grammar g, ParseGbnf(text, limits_));
  auto compiled =
      std::make_shared<CompiledGrammar>(GrammarAutomaton(std::move(g), limits_), TokenMasker(vocab_, trie_));
  if (entries_.size() >= capacity_) {
    index_.erase(entries_.back().first);
    entries_.pop_back();
  }
  entries_.emplace_front(std::string(text), compiled);
  index_[entries_.front().first] = entries_.begin();
  return compiled;
}

bool GrammarMatcher::Accept(int32_t token) {
  const Vocabulary& vocab = grammar_->masker.vocab();
  if (state_ == GrammarAutomaton::kDead || token < 0 || token >= vocab.size()) {
    state_ = GrammarAutomaton::kDead;
    return false;
  }
  const std::string& bytes = vocab.token_bytes[token];
  if (bytes.empty()) {  // end of text (or a control token): nothing may follow
    const bool allowed = IsComplete();
    state_ = GrammarAutomaton::kDead;
    return allowed;
  }
  state_ = grammar_->automaton.NextBytes(state_, bytes);
  return state_ != GrammarAutomaton::kDead;
}

}  // namespace hearth::grammar
