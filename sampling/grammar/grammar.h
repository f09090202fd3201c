// A grammar as the matcher runs it: rules of alternatives, each alternative a sequence of
// elements over bytes (a set of allowed bytes, or a reference to a rule). Text grammars
// (gbnf_parser.h) and JSON schemas (json_schema_grammar.h) both compile to this; code points
// are already spelled out as UTF-8 byte sequences (utf8_ranges.h).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace hearth::grammar {

// 256 bits: which bytes an element accepts.
struct ByteSet {
  std::array<uint64_t, 4> bits{};
  void Add(uint8_t b) { bits[b >> 6] |= uint64_t{1} << (b & 63); }
  void AddRange(uint8_t lo, uint8_t hi) {
    for (int b = lo; b <= hi; ++b) Add(static_cast<uint8_t>(b));
  }
  bool Has(uint8_t b) const { return (bits[b >> 6] >> (b & 63)) & 1; }
  bool operator==(const ByteSet&) const = default;
};

struct Element {
  enum class Kind : uint8_t { kEnd, kBytes, kRule };
  Kind kind = Kind::kEnd;
  int32_t value = 0;  // kBytes: index into Grammar::byte_sets; kRule: rule id
};

struct Grammar {
  std::vector<ByteSet> byte_sets;
  // Every alternative's elements, each alternative closed by a kEnd element.
  std::vector<Element> elements;
  // [rule] the positions in `elements` where the rule's alternatives start.
  std::vector<std::vector<int32_t>> alternatives;
  std::vector<std::string> rule_names;  // [rule]
  int32_t root = -1;

  int32_t num_rules() const { return static_cast<int32_t>(alternatives.size()); }
};

// Checks what the matcher relies on: a root, every referenced rule defined with at least one
// alternative, and no left recursion (a rule that can reach itself without consuming a byte
// would expand forever). InvalidArgument names the rule.
Status CheckGrammar(const Grammar& g);

}  // namespace hearth::grammar
