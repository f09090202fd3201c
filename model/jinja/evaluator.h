// Runs a parsed template (ast.h) against a set of variables and returns the text. Scoping
// follows Jinja: a for loop's body and a macro's body get their own scope, `if` does not, and
// `set` writes to the innermost scope. Work is bounded by limits.h.
#pragma once

#include <ctime>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/jinja/ast.h"
#include "model/jinja/value.h"

namespace hearth::model::jinja {

class Evaluator {
 public:
  // `globals` are visible everywhere (the caller's variables plus the built-in functions).
  explicit Evaluator(std::unordered_map<std::string, Value> globals);

  // Throws TemplateError (error.h).
  std::string Render(const Body& body);

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  using Scope = std::unordered_map<std::string, Value>;

  Flow Exec(const Body& body, std::string* out);
  Flow ExecStmt(const Stmt& s, std::string* out);
  Flow ExecFor(const Stmt& s, std::string* out);
  void ExecSet(const Stmt& s);
  void DefineMacro(const Stmt& s);

  Value Eval(const Expr& e);
  Value EvalBinary(const Expr& e);
  Value EvalCall(const Expr& e);
  Value EvalSlice(const Expr& e);
  CallArgs EvalArgs(const Expr& e, size_t first);
  Value Lookup(const std::string& name) const;
  Value CallMacro(const Stmt& macro, CallArgs& args, int line);

  void Step(int line);
  void Append(std::string* out, const std::string& text, int line);

  std::vector<Scope> scopes_;  // [0] holds the globals and top-level sets
  int64_t steps_ = 0;
  int call_depth_ = 0;
};

}  // namespace hearth::model::jinja
