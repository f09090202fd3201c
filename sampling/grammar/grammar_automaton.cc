#include "sampling/grammar/grammar_automaton.h"

#include <algorithm>
#include <string>
#include <unordered_set>

namespace hearth::grammar {
namespace {

// Frames kept per grammar, all states together (about 40 bytes each with the index).
constexpr size_t kMaxFrames = size_t{1} << 22;

}  // namespace

GrammarAutomaton::GrammarAutomaton(Grammar grammar, const GrammarLimits& limits)
    : g_(std::move(grammar)), limits_(limits) {
  std::vector<int32_t> stacks;
  // Start as if resuming inside a one-element rule "start ::= root".
  bool ok = true;
  for (int32_t alt : g_.alternatives[g_.root]) ok = ok && Expand(alt, -1, &stacks);
  initial_ = ok ? InternState(std::move(stacks)) : kDead;
}

int32_t GrammarAutomaton::InternFrame(int32_t pos, int32_t parent) {
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(pos)) << 32) | static_cast<uint32_t>(parent);
  auto [it, inserted] = frame_ids_.try_emplace(key, static_cast<int32_t>(frames_.size()));
  if (inserted) frames_.push_back({pos, parent, parent < 0 ? 1 : frames_[parent].depth + 1});
  return it->second;
}

bool GrammarAutomaton::Expand(int32_t pos, int32_t parent, std::vector<int32_t>* out) {
  std::vector<std::pair<int32_t, int32_t>> work{{pos, parent}};
  std::unordered_set<uint64_t> seen;
  while (!work.empty()) {
    auto [p, par] = work.back();
    work.pop_back();
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(p)) << 32) | static_cast<uint32_t>(par);
    if (!seen.insert(key).second) continue;
    const Element& e = g_.elements[p];
    if (e.kind == Element::Kind::kBytes) {
      out->push_back(InternFrame(p, par));
      if (static_cast<int32_t>(out->size()) > 4 * limits_.max_stacks) return false;
    } else if (e.kind == Element::Kind::kEnd) {
      if (par < 0) {
        out->push_back(-1);
      } else {
        work.push_back({frames_[par].pos, frames_[par].parent});
      }
    } else {
      // Tail position: the rule's end returns straight to our parent.
      int32_t cont = par;
      if (g_.elements[p + 1].kind != Element::Kind::kEnd) {
        cont = InternFrame(p + 1, par);
        if (frames_[cont].depth > limits_.max_stack_depth) return false;
      }
      for (int32_t alt : g_.alternatives[e.value]) work.push_back({alt, cont});
    }
    if (seen.size() > static_cast<size_t>(limits_.max_elements) || frames_.size() > kMaxFrames) return false;
  }
  return true;
}

GrammarAutomaton::StateId GrammarAutomaton::InternState(std::vector<int32_t> stacks) {
  std::sort(stacks.begin(), stacks.end());
  stacks.erase(std::unique(stacks.begin(), stacks.end()), stacks.end());
  if (stacks.empty() || static_cast<int32_t>(stacks.size()) > limits_.max_stacks) return kDead;
  std::string key(reinterpret_cast<const char*>(stacks.data()), stacks.size() * sizeof(int32_t));
  auto it = state_ids_.find(key);
  if (it != state_ids_.end()) return it->second;
  if (static_cast<int32_t>(states_.size()) >= limits_.max_states) return kDead;
  const StateId id = static_cast<StateId>(states_.size());
  states_.push_back(State{std::move(stacks), nullptr});
  state_ids_.emplace(std::move(key), id);
  return id;
}

GrammarAutomaton::StateId GrammarAutomaton::Next(StateId state, uint8_t byte) {
  if (state < 0) return kDead;
  State* s = &states_[state];
  if (s->next && (*s->next)[byte] != kUnknown) return (*s->next)[byte];
  std::vector<int32_t> stacks;
  bool ok = true;
  for (int32_t top : s->stacks) {
    if (top < 0) continue;
    const Frame f = frames_[top];
    if (!g_.byte_sets[g_.elements[f.pos].value].Has(byte)) continue;
    if (!Expand(f.pos + 1, f.parent, &stacks)) {
      ok = false;
      break;
    }
  }
  const StateId next = ok ? InternState(std::move(stacks)) : kDead;
  s = &states_[state];  // InternState may have moved the states
  if (!s->next) {
    s->next = std::make_unique<std::array<StateId, 256>>();
    s->next->fill(kUnknown);
  }
  (*s->next)[byte] = next;
  return next;
}

GrammarAutomaton::StateId GrammarAutomaton::NextBytes(StateId state, std::string_view bytes) {
  for (char c : bytes) {
    state = Next(state, static_cast<uint8_t>(c));
    if (state == kDead) break;
  }
  return state;
}

bool GrammarAutomaton::IsAccepting(StateId state) const {
  return state >= 0 && !states_[state].stacks.empty() && states_[state].stacks.front() == -1;
}

bool GrammarAutomaton::CanContinue(StateId state) const {
  return state >= 0 && !states_[state].stacks.empty() && states_[state].stacks.back() >= 0;
}

}  // namespace hearth::grammar
