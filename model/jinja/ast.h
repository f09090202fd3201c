// The syntax tree of a parsed template: expressions and statements, plain data that the
// evaluator walks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/jinja/value.h"

namespace hearth::model::jinja {

enum class ExprKind {
  kLiteral,   // literal
  kName,      // name
  kList,      // [args...]
  kDict,      // {args[0]: args[1], ...} (keys and values alternate)
  kGetAttr,   // args[0].name
  kGetItem,   // args[0][args[1]]
  kSlice,     // args[0][args[1]:args[2]:args[3]], a null arg is omitted
  kCall,      // args[0](args[1..]), the last kwarg_names.size() args are keyword arguments
  kFilter,    // args[0] | name(args[1..]), keyword arguments as for kCall
  kTest,      // args[0] is [not] name(args[1..]); negated
  kUnary,     // name in {"-", "+", "not"} applied to args[0]
  kBinary,    // args[0] name args[1], name an operator, "and", "or", "in" or "not in"
  kCondition, // args[1] if args[0] else args[2] (args[2] null: Undefined)
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  int line = 0;
  std::string name;
  Value literal;
  bool negated = false;
  std::vector<std::unique_ptr<Expr>> args;
  std::vector<std::string> kwarg_names;
};
using ExprPtr = std::unique_ptr<Expr>;

enum class StmtKind {
  kText,      // text
  kOutput,    // {{ expr }}
  kIf,        // conds[i] guards bodies[i]; a trailing extra body is the else
  kFor,       // for targets in expr [if cond]: bodies[0], else bodies[1]
  kSet,       // set targets[0][.attr] = expr, or with no expr the rendered bodies[0]
  kMacro,     // macro name(targets) with defaults (a null default: none given): bodies[0]
  kCallBlock, // call expr (its caller() renders bodies[0])
  kFilterBlock,  // filter expr: expr is a kFilter whose subject is the rendered bodies[0]
  kBreak,
  kContinue,
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct Stmt {
  StmtKind kind = StmtKind::kText;
  int line = 0;
  std::string text;  // kText; kMacro: its name; kSet: the attribute, if any
  ExprPtr expr;
  ExprPtr cond;  // kFor's filter
  std::vector<ExprPtr> conds;
  std::vector<ExprPtr> defaults;
  std::vector<std::string> targets;
  std::vector<Body> bodies;
};

}  // namespace hearth::model::jinja
