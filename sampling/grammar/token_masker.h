// The per-step token mask: which tokens a grammar state allows. A token is allowed when the
// automaton accepts all of its bytes from the state; end-of-text tokens when the state is
// complete. Masks are computed by one walk of the vocabulary trie and kept per state, so a
// state that recurs (inside a string, between array items, the same place in another request
// with the same grammar) costs a look-up.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "sampling/grammar/grammar_automaton.h"
#include "sampling/grammar/vocab_trie.h"

namespace hearth::grammar {

// One bit per token id.
using TokenMask = std::vector<uint64_t>;

inline bool MaskHas(std::span<const uint64_t> mask, int32_t token) {
  return (mask[static_cast<size_t>(token) >> 6] >> (token & 63)) & 1;
}

class TokenMasker {
 public:
  TokenMasker(std::shared_ptr<const Vocabulary> vocab, std::shared_ptr<const VocabTrie> trie);

  // The mask for `state` of `automaton` (which this masker must always be used with). When
  // nothing at all would be allowed (a dead state: the grammar's limits were hit), the
  // end-of-text tokens are, so the request ends rather than sampling outside the grammar.
  // The span stays valid until the next call.
  std::span<const uint64_t> Mask(GrammarAutomaton& automaton, GrammarAutomaton::StateId state);

  const Vocabulary& vocab() const { return *vocab_; }

 private:
  void Compute(GrammarAutomaton& automaton, GrammarAutomaton::StateId state, TokenMask* mask);

  static constexpr size_t kMaxCachedMasks = 4096;  // 6 KiB each at a 49k vocabulary
  std::shared_ptr<const Vocabulary> vocab_;
  std::shared_ptr<const VocabTrie> trie_;
  std::unordered_map<GrammarAutomaton::StateId, TokenMask> cache_;
  struct Walk {
    int32_t node;
    GrammarAutomaton::StateId state;
  };
  std::vector<Walk> walk_;  // scratch
};

}  // namespace hearth::grammar
