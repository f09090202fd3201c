#include "sampling/grammar/token_masker.h"

namespace hearth::grammar {

TokenMasker::TokenMasker(std::shared_ptr<const Vocabulary> vocab, std::shared_ptr<const VocabTrie> trie)
    : vocab_(std::move(vocab)), trie_(std::move(trie)) {}

std::span<const uint64_t> TokenMasker::Mask(GrammarAutomaton& automaton, GrammarAutomaton::StateId state) {
  auto it = cache_.find(state);
  if (it == cache_.end()) {
    if (cache_.size() >= kMaxCachedMasks) cache_.clear();
    TokenMask mask;
    Compute(automaton, state, &mask);
    it = cache_.emplace(state, std::move(mask)).first;
  }
  return it->second;
}

void TokenMasker::Compute(GrammarAutomaton& automaton, GrammarAutomaton::StateId state, TokenMask* mask) {
  mask->assign((static_cast<size_t>(vocab_->size()) + 63) / 64, 0);
  auto set = [&](int32_t token) { (*mask)[static_cast<size_t>(token) >> 6] |= uint64_t{1} << (token & 63); };
  bool any = false;
  if (automaton.CanContinue(state)) {
    walk_.clear();
    walk_.push_back({0, state});
    while (!walk_.empty()) {
      const Walk w = walk_.back();
      walk_.pop_back();
      const VocabTrie::Node& n = trie_->node(w.node);
      const VocabTrie::Edge* edges = trie_->children(n);
      for (int32_t i = 0; i < n.num_children; ++i) {
        const GrammarAutomaton::StateId next = automaton.Next(w.state, edges[i].byte);
        if (next == GrammarAutomaton::kDead) continue;
        const VocabTrie::Node& child = trie_->node(edges[i].node);
        const int32_t* tokens = trie_->tokens(child);
        for (int32_t t = 0; t < child.num_tokens; ++t) set(tokens[t]);
        any = any || child.num_tokens > 0;
        if (child.num_children > 0 && automaton.CanContinue(next)) walk_.push_back({edges[i].node, next});
      }
    }
  }
  if (automaton.IsAccepting(state) || !any) {
    for (int32_t t : vocab_->end_tokens) {
      if (t >= 0 && t < vocab_->size()) set(t);
    }
  }
}

}  // namespace hearth::grammar
