#include "sampling/grammar/grammar.h"

namespace hearth::grammar {
namespace {

std::string RuleName(const Grammar& g, int32_t r) {
  return r >= 0 && static_cast<size_t>(r) < g.rule_names.size() ? g.rule_names[r] : std::to_string(r);
}

// Which rules can match the empty string (to a fixed point).
std::vector<bool> Nullable(const Grammar& g) {
  std::vector<bool> nullable(g.alternatives.size(), false);
  for (bool changed = true; changed;) {
    changed = false;
    for (int32_t r = 0; r < g.num_rules(); ++r) {
      if (nullable[r]) continue;
      for (int32_t pos : g.alternatives[r]) {
        bool all = true;
        for (;; ++pos) {
          const Element& e = g.elements[pos];
          if (e.kind == Element::Kind::kEnd) break;
          if (e.kind == Element::Kind::kBytes || !nullable[e.value]) {
            all = false;
            break;
          }
        }
        if (all) {
          nullable[r] = changed = true;
          break;
        }
      }
    }
  }
  return nullable;
}

}  // namespace

Status CheckGrammar(const Grammar& g) {
  if (g.root < 0 || g.root >= g.num_rules()) return Status::InvalidArgument("the grammar has no 'root' rule");
  for (int32_t r = 0; r < g.num_rules(); ++r) {
    if (g.alternatives[r].empty()) {
      return Status::InvalidArgument("rule '" + RuleName(g, r) + "' is used but never defined");
    }
  }
  for (const Element& e : g.elements) {
    if (e.kind == Element::Kind::kRule && (e.value < 0 || e.value >= g.num_rules()))
      return Status::InvalidArgument("a reference to an unknown rule");
    if (e.kind == Element::Kind::kBytes && (e.value < 0 || static_cast<size_t>(e.value) >= g.byte_sets.size()))
      return Status::InvalidArgument("a reference to an unknown byte set");
  }
  // Left calls: rule r can start with rule s without consuming a byte. A cycle among them is
  // left recursion; found by an iterative depth-first search (three colours).
  const std::vector<bool> nullable = Nullable(g);
  std::vector<std::vector<int32_t>> left(g.alternatives.size());
  for (int32_t r = 0; r < g.num_rules(); ++r) {
    for (int32_t pos : g.alternatives[r]) {
      for (;; ++pos) {
        const Element& e = g.elements[pos];
        if (e.kind != Element::Kind::kRule) break;
        left[r].push_back(e.value);
        if (!nullable[e.value]) break;
      }
    }
  }
  std::vector<uint8_t> colour(g.alternatives.size(), 0);  // 0 new, 1 on the path, 2 done
  for (int32_t start = 0; start < g.num_rules(); ++start) {
    if (colour[start] != 0) continue;
    std::vector<std::pair<int32_t, size_t>> path{{start, 0}};
    colour[start] = 1;
    while (!path.empty()) {
      auto& [r, next] = path.back();
      if (next == left[r].size()) {
        colour[r] = 2;
        path.pop_back();
        continue;
      }
      const int32_t s = left[r][next++];
      if (colour[s] == 1) {
        return Status::InvalidArgument("rule '" + RuleName(g, s) +
                                       "' is left-recursive (it can reach itself before matching any "
                                       "character); rewrite it with repetition, e.g. x ::= y (\",\" y)*");
      }
      if (colour[s] == 0) {
        colour[s] = 1;
        path.push_back({s, 0});
      }
    }
  }
  return Status::Ok();
}

}  // namespace hearth::grammar
