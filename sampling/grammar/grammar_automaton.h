// The byte matcher: a pushdown matcher whose configuration is the set of parse stacks still
// alive, run as a deterministic automaton built lazily. Each distinct stack set becomes a state
// the first time it is reached and each (state, byte) transition is computed once, so walking
// the vocabulary trie or replaying a request's tokens costs a table look-up per byte once the
// grammar is warm. Stacks are hash-consed frames (position to resume at, parent frame), which
// keeps equal stack sets equal as integers and makes right recursion (x ::= y x | ) run in
// constant depth.
//
// Not thread-safe: one owner (the worker's step loop, or one compile) drives it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sampling/grammar/grammar.h"
#include "sampling/grammar/grammar_limits.h"

namespace hearth::grammar {

class GrammarAutomaton {
 public:
  using StateId = int32_t;
  static constexpr StateId kDead = -1;  // no stack survives: the input left the grammar

  // `grammar` must have passed CheckGrammar.
  GrammarAutomaton(Grammar grammar, const GrammarLimits& limits);

  StateId initial() const { return initial_; }
  // The state after `byte`, or kDead. Also kDead when the limits (stacks alive at once, stack
  // depth, states kept) would be exceeded, so a hostile grammar ends its request instead of
  // growing without bound.
  StateId Next(StateId state, uint8_t byte);
  StateId NextBytes(StateId state, std::string_view bytes);
  // Whether the input so far is a complete sentence (the end of text may come now).
  bool IsAccepting(StateId state) const;
  // Whether some byte may still follow.
  bool CanContinue(StateId state) const;

  size_t num_states() const { return states_.size(); }
  const Grammar& grammar() const { return g_; }

 private:
  struct Frame {
    int32_t pos;     // element to match (top) or to resume at (below the top)
    int32_t parent;  // frame id, -1 at the bottom
    int32_t depth;
  };
  struct State {
    std::vector<int32_t> stacks;  // sorted top-frame ids; -1 is the empty (accepted) stack
    std::unique_ptr<std::array<StateId, 256>> next;  // lazily; kUnknown until computed
  };
  static constexpr StateId kUnknown = -2;

  int32_t InternFrame(int32_t pos, int32_t parent);
  // Adds the stacks reachable from resuming at `pos` over `parent`, expanded until each top is
  // a byte element. False when a limit is exceeded.
  bool Expand(int32_t pos, int32_t parent, std::vector<int32_t>* out);
  StateId InternState(std::vector<int32_t> stacks);

  Grammar g_;
  GrammarLimits limits_;
  std::vector<Frame> frames_;
  std::unordered_map<uint64_t, int32_t> frame_ids_;  // (pos, parent) -> frame id
  std::vector<State> states_;
  std::unordered_map<std::string, StateId> state_ids_;  // stacks' bytes -> state
  StateId initial_ = kDead;
};

}  // namespace hearth::grammar
