// How the lexer, parser and evaluator report a template error: a private exception that the
// public entry points (template.h) turn into a Status naming the template line. Nothing else
// throws it, and it never leaves this folder's public functions.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace hearth::model::jinja {

// Joins pieces with append(): GCC 12 raises a false -Wrestrict on chains of operator+.
inline std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (std::string_view p : parts) out.append(p);
  return out;
}

struct TemplateError {
  int line = 0;
  std::string message;
};

[[noreturn]] inline void Fail(int line, std::string message) {
  throw TemplateError{line, std::move(message)};
}

}  // namespace hearth::model::jinja
