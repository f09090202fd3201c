// Bounds on what one grammar may cost, so hostile grammars and schemas are refused with an
// error instead of exhausting memory or time. Every compiler and the matcher take them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hearth::grammar {

struct GrammarLimits {
  size_t max_text_bytes = 256 * 1024;  // grammar text or schema JSON
  int32_t max_rules = 20000;           // after expanding repetitions and char classes
  int32_t max_elements = 400000;       // all alternatives' elements together
  int32_t max_repeat = 1000;           // m and n in x{m,n}; minItems / maxItems
  int32_t max_nesting = 64;            // parentheses in a grammar; subschemas in a schema
  int32_t max_enum = 1024;             // enum values in one schema
  // Matcher: stacks alive at once, frames in one stack, automaton states kept per grammar.
  int32_t max_stacks = 1024;
  int32_t max_stack_depth = 1024;
  int32_t max_states = 32768;
};

}  // namespace hearth::grammar
