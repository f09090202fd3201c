// Parses Hearth's grammar syntax, GBNF (the EBNF dialect llama.cpp documents), into a Grammar:
//
//   root   ::= "{" ws pair ("," ws pair)* "}"   # rules; 'root' is where matching starts
//   pair   ::= [a-z]+ ":" ws ( num | "null" )   # sequences, alternation, groups
//   num    ::= "-"? [0-9]{1,6}                  # ? * + {m} {m,} {m,n}
//   ws     ::= [ \t\n]*                         # classes: ranges, [^...] negation, '.' any
//
// Literals and classes are Unicode (UTF-8) and take the escapes \n \r \t \\ \" \' \[ \] \- \/
// \xHH \uHHHH \UHHHHHHHH. A rule ends at the end of its line, unless inside parentheses or
// the next line starts with '|'. docs/api.md has the full description.
#pragma once

#include <string_view>

#include "common/status.h"
#include "sampling/grammar/grammar.h"
#include "sampling/grammar/grammar_limits.h"

namespace hearth::grammar {

// InvalidArgument with the line and what is wrong for a malformed grammar, one over `limits`,
// or one CheckGrammar refuses.
StatusOr<Grammar> ParseGbnf(std::string_view text, const GrammarLimits& limits = {});

}  // namespace hearth::grammar
