// Builds the syntax tree of a template from its tokens (lexer.h), by recursive descent with
// Jinja's operator precedence. Nesting deeper than a limit is an error, not a stack overflow.
#pragma once

#include <string_view>

#include "model/jinja/ast.h"

namespace hearth::model::jinja {

inline constexpr int kMaxParseDepth = 100;

// Throws TemplateError (error.h) on a syntax error or an unsupported tag.
Body Parse(std::string_view source);

}  // namespace hearth::model::jinja
