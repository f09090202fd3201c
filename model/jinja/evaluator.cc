#include "model/jinja/evaluator.h"

#include <cmath>
#include <limits>

#include "model/jinja/builtins.h"
#include "model/jinja/error.h"
#include "model/jinja/limits.h"
#include "model/jinja/strings.h"

namespace hearth::model::jinja {
namespace {

[[noreturn]] void BadOperands(const std::string& op, const Value& l, const Value& r, int line) {
  if (l.is_undefined()) Fail(line, Cat({"'", l.undefined_name(), "' is undefined"}));
  if (r.is_undefined()) Fail(line, Cat({"'", r.undefined_name(), "' is undefined"}));
  std::string msg = "unsupported operand types for ";
  msg.append(op).append(": '").append(l.TypeName()).append("' and '").append(r.TypeName()).append("'");
  Fail(line, std::move(msg));
}

bool IsIntLike(const Value& v) { return v.is_int() || v.is_bool(); }
int64_t IntOf(const Value& v) { return v.is_int() ? v.as_int() : v.as_bool(); }
bool IsNum(const Value& v) { return v.is_number() || v.is_bool(); }

int64_t CheckedInt(bool overflow, int64_t v, int line) {
  if (overflow) Fail(line, "integer overflow");
  return v;
}

Value Repeat(const Value& seq, int64_t n, int line) {
  if (n <= 0) return seq.is_string() ? Value("") : Value(ValueList{});
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (!s.empty() && static_cast<uint64_t>(n) > kMaxStringBytes / s.size()) {
      Fail(line, "template built a string longer than the limit");
    }
    std::string out;
    for (int64_t i = 0; i < n; ++i) out += s;
    return Value(std::move(out));
  }
  const ValueList& l = seq.as_list();
  if (!l.empty() && static_cast<uint64_t>(n) > kMaxListItems / l.size()) CheckList(kMaxListItems + 1, line);
  ValueList out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), l.begin(), l.end());
  return Value(std::move(out));
}

Value Arithmetic(const std::string& op, const Value& l, const Value& r, int line) {
  if (op == "+") {
    if (IsIntLike(l) && IsIntLike(r)) {
      int64_t v = 0;
      const bool overflow = __builtin_add_overflow(IntOf(l), IntOf(r), &v);
      return Value(CheckedInt(overflow, v, line));
    }
    if (IsNum(l) && IsNum(r)) return Value(l.as_double() + r.as_double());
    if (l.is_string() && r.is_string()) {
      std::string s = l.as_string();
      s.append(r.as_string());
      CheckString(s, line);
      return Value(std::move(s));
    }
    if (l.is_list() && r.is_list()) {
      CheckList(l.as_list().size() + r.as_list().size(), line);
      ValueList out = l.as_list();
      out.insert(out.end(), r.as_list().begin(), r.as_list().end());
      return Value(std::move(out));
    }
  } else if (op == "-") {
    if (IsIntLike(l) && IsIntLike(r)) {
      int64_t v = 0;
      const bool overflow = __builtin_sub_overflow(IntOf(l), IntOf(r), &v);
      return Value(CheckedInt(overflow, v, line));
    }
    if (IsNum(l) && IsNum(r)) return Value(l.as_double() - r.as_double());
  } else if (op == "*") {
    if (IsIntLike(l) && IsIntLike(r)) {
      int64_t v = 0;
      const bool overflow = __builtin_mul_overflow(IntOf(l), IntOf(r), &v);
      return Value(CheckedInt(overflow, v, line));
    }
    if (IsNum(l) && IsNum(r)) return Value(l.as_double() * r.as_double());
    if ((l.is_string() || l.is_list()) && IsIntLike(r)) return Repeat(l, IntOf(r), line);
    if ((r.is_string() || r.is_list()) && IsIntLike(l)) return Repeat(r, IntOf(l), line);
  } else if (op == "/" || op == "//" || op == "%") {
    if (IsNum(l) && IsNum(r)) {
      if (r.as_double() == 0.0) Fail(line, "division by zero");
      if (op == "/") return Value(l.as_double() / r.as_double());
      if (IsIntLike(l) && IsIntLike(r)) {
        const int64_t a = IntOf(l), b = IntOf(r);
        if (a == std::numeric_limits<int64_t>::min() && b == -1) Fail(line, "integer overflow");
        int64_t q = a / b, m = a % b;
        if (m != 0 && ((m < 0) != (b < 0))) {
          --q;
          m += b;
        }
        return Value(op == "//" ? q : m);
      }
      const double a = l.as_double(), b = r.as_double();
      if (op == "//") return Value(std::floor(a / b));
      double m = std::fmod(a, b);
      if (m != 0 && ((m < 0) != (b < 0))) m += b;
      return Value(m);
    }
  } else if (op == "**") {
    if (IsIntLike(l) && IsIntLike(r) && IntOf(r) >= 0) {
      int64_t result = 1;
      for (int64_t i = 0; i < IntOf(r); ++i) {
        if (__builtin_mul_overflow(result, IntOf(l), &result)) Fail(line, "integer overflow");
        if (result == 0 || result == 1) break;
      }
      return Value(result);
    }
    if (IsNum(l) && IsNum(r)) return Value(std::pow(l.as_double(), r.as_double()));
  }
  BadOperands(op, l, r, line);
}

bool Contains(const Value& container, const Value& item, int line) {
  if (container.is_string()) {
    if (!item.is_string()) Fail(line, "'in <string>' needs a string on the left");
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_dict()) return item.is_string() && container.as_dict().Find(item.as_string()) != nullptr;
  for (const Value& e : Iterate(container, line)) {
    if (e.Equals(item)) return true;
  }
  return false;
}

std::optional<int64_t> SliceBound(const Value& v, int line) {
  if (v.is_undefined() || v.is_none()) return std::nullopt;
  if (!IsIntLike(v)) Fail(line, "slice indices must be integers or none");
  return IntOf(v);
}

}  // namespace

Evaluator::Evaluator(std::unordered_map<std::string, Value> globals) {
  scopes_.push_back(std::move(globals));
}

std::string Evaluator::Render(const Body& body) {
  std::string out;
  Exec(body, &out);
  return out;
}

void Evaluator::Step(int line) {
  if (++steps_ > kMaxSteps) Fail(line, "template took too many steps (a loop too long?)");
}

void Evaluator::Append(std::string* out, const std::string& text, int line) {
  out->append(text);
  if (out->size() > kMaxStringBytes) Fail(line, "template output longer than the limit");
}

Evaluator::Flow Evaluator::Exec(const Body& body, std::string* out) {
  for (const auto& s : body) {
    const Flow f = ExecStmt(*s, out);
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Evaluator::Flow Evaluator::ExecStmt(const Stmt& s, std::string* out) {
  Step(s.line);
  switch (s.kind) {
    case StmtKind::kText:
      Append(out, s.text, s.line);
      return Flow::kNormal;
    case StmtKind::kOutput:
      Append(out, Eval(*s.expr).Str(), s.line);
      return Flow::kNormal;
    case StmtKind::kIf:
      for (size_t i = 0; i < s.conds.size(); ++i) {
        if (Eval(*s.conds[i]).Truthy()) return Exec(s.bodies[i], out);
      }
      if (s.bodies.size() > s.conds.size()) return Exec(s.bodies.back(), out);
      return Flow::kNormal;
    case StmtKind::kFor:
      return ExecFor(s, out);
    case StmtKind::kSet:
      ExecSet(s);
      return Flow::kNormal;
    case StmtKind::kMacro:
      DefineMacro(s);
      return Flow::kNormal;
    case StmtKind::kCallBlock: {
      const Expr& call = *s.expr;
      const Value callee = Eval(*call.args[0]);
      if (!callee.is_function()) Fail(s.line, "{% call %} needs a macro");
      CallArgs args = EvalArgs(call, 1);
      const Body* body = &s.bodies[0];
      args.keyword.emplace_back("caller", Value::Function("caller", [this, body](CallArgs&) {
        std::string text;
        Exec(*body, &text);
        return Value(std::move(text));
      }));
      Append(out, callee.as_function()(args).Str(), s.line);
      return Flow::kNormal;
    }
    case StmtKind::kFilterBlock: {
      std::string text;
      Exec(s.bodies[0], &text);
      const Value v = ApplyFilter(s.expr->name, Value(std::move(text)), EvalArgs(*s.expr, 1));
      Append(out, v.Str(), s.line);
      return Flow::kNormal;
    }
    case StmtKind::kBreak:
      return Flow::kBreak;
    case StmtKind::kContinue:
      return Flow::kContinue;
  }
  return Flow::kNormal;
}

Evaluator::Flow Evaluator::ExecFor(const Stmt& s, std::string* out) {
  ValueList all = Iterate(Eval(*s.expr), s.line);
  auto bind = [&](Scope& scope, const Value& item) {
    if (s.targets.size() == 1) {
      scope[s.targets[0]] = item;
      return;
    }
    const ValueList parts = item.is_list() ? item.as_list() : Iterate(item, s.line);
    if (parts.size() != s.targets.size()) {
      Fail(s.line, "cannot unpack " + std::to_string(parts.size()) + " values into " +
                       std::to_string(s.targets.size()) + " names");
    }
    for (size_t i = 0; i < parts.size(); ++i) scope[s.targets[i]] = parts[i];
  };
  ValueList items;
  if (s.cond) {
    for (const Value& item : all) {
      Step(s.line);
      scopes_.emplace_back();
      bind(scopes_.back(), item);
      const bool keep = Eval(*s.cond).Truthy();
      scopes_.pop_back();
      if (keep) items.push_back(item);
    }
  } else {
    items = std::move(all);
  }
  if (items.empty()) {
    return s.bodies.size() > 1 ? Exec(s.bodies[1], out) : Flow::kNormal;
  }
  const int64_t n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    Step(s.line);
    ValueDict loop;  // distinct keys: appended without Set's search
    loop.items = {{"index", Value(i + 1)},
                  {"index0", Value(i)},
                  {"revindex", Value(n - i)},
                  {"revindex0", Value(n - i - 1)},
                  {"first", Value(i == 0)},
                  {"last", Value(i == n - 1)},
                  {"length", Value(n)},
                  {"previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::Undef("previtem")},
                  {"nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::Undef("nextitem")}};
    scopes_.emplace_back();
    scopes_.back()["loop"] = Value(std::move(loop));
    bind(scopes_.back(), items[static_cast<size_t>(i)]);
    const Flow f = Exec(s.bodies[0], out);
    scopes_.pop_back();
    if (f == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

void Evaluator::ExecSet(const Stmt& s) {
  Value v;
  if (s.expr) {
    v = Eval(*s.expr);
  } else {
    std::string text;
    Exec(s.bodies[0], &text);
    v = Value(std::move(text));
  }
  if (s.text.empty()) {
    scopes_.back()[s.targets[0]] = std::move(v);
    return;
  }
  const Value target = Lookup(s.targets[0]);
  if (!target.is_dict() || !target.as_dict().is_namespace) {
    Fail(s.line, "cannot assign attribute on '" + s.targets[0] + "' (not a namespace())");
  }
  target.as_dict().Set(s.text, std::move(v));
}

void Evaluator::DefineMacro(const Stmt& s) {
  const Stmt* macro = &s;
  scopes_.back()[s.text] = Value::Function(s.text, [this, macro](CallArgs& args) {
    return CallMacro(*macro, args, args.line);
  });
}

Value Evaluator::CallMacro(const Stmt& m, CallArgs& args, int line) {
  if (++call_depth_ > kMaxCallDepth) Fail(line, "macro calls nested too deeply (recursion?)");
  if (args.positional.size() > m.targets.size()) Fail(line, Cat({"too many arguments to macro '", m.text, "'"}));
  Scope scope;
  for (size_t i = 0; i < m.targets.size(); ++i) {
    Value v = args.Get(i, m.targets[i]);
    if (v.is_undefined() && m.defaults[i]) v = Eval(*m.defaults[i]);
    scope[m.targets[i]] = std::move(v);
  }
  for (const auto& [k, v] : args.keyword) {
    if (k == "caller") scope["caller"] = v;
  }
  // A macro sees the template's top-level names and its arguments, not the caller's locals.
  std::vector<Scope> saved(std::make_move_iterator(scopes_.begin() + 1), std::make_move_iterator(scopes_.end()));
  scopes_.resize(1);
  scopes_.push_back(std::move(scope));
  std::string out;
  Exec(m.bodies[0], &out);
  scopes_.resize(1);
  for (Scope& sc : saved) scopes_.push_back(std::move(sc));
  --call_depth_;
  return Value(std::move(out));
}

Value Evaluator::Lookup(const std::string& name) const {
  for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
    auto found = it->find(name);
    if (found != it->end()) return found->second;
  }
  return Value::Undef(name);
}

CallArgs Evaluator::EvalArgs(const Expr& e, size_t first) {
  CallArgs args;
  args.line = e.line;
  const size_t num_kw = e.kwarg_names.size();
  const size_t num_pos = e.args.size() - first - num_kw;
  for (size_t i = 0; i < num_pos; ++i) args.positional.push_back(Eval(*e.args[first + i]));
  for (size_t i = 0; i < num_kw; ++i) {
    args.keyword.emplace_back(e.kwarg_names[i], Eval(*e.args[first + num_pos + i]));
  }
  return args;
}

Value Evaluator::Eval(const Expr& e) {
  Step(e.line);
  switch (e.kind) {
    case ExprKind::kLiteral:
      return e.literal;
    case ExprKind::kName:
      return Lookup(e.name);
    case ExprKind::kList:
    case ExprKind::kDict: {
      CheckList(e.args.size(), e.line);
      Value v;
      if (e.kind == ExprKind::kList) {
        ValueList list;
        for (const auto& a : e.args) list.push_back(Eval(*a));
        v = Value(std::move(list));
      } else {
        ValueDict dict;
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          const Value key = Eval(*e.args[i]);
          if (!key.is_string()) Fail(e.line, "dict keys must be strings here");
          dict.Set(key.as_string(), Eval(*e.args[i + 1]));
        }
        v = Value(std::move(dict));
      }
      if (v.depth() > kMaxValueDepth) Fail(e.line, "lists and dicts nested too deeply");
      return v;
    }
    case ExprKind::kGetAttr:
      return GetAttr(Eval(*e.args[0]), e.name, e.line);
    case ExprKind::kGetItem: {
      const Value obj = Eval(*e.args[0]);
      return GetItem(obj, Eval(*e.args[1]), e.line);
    }
    case ExprKind::kSlice:
      return EvalSlice(e);
    case ExprKind::kCall:
      return EvalCall(e);
    case ExprKind::kFilter: {
      const Value v = Eval(*e.args[0]);
      Value r = ApplyFilter(e.name, v, EvalArgs(e, 1));
      if (r.depth() > kMaxValueDepth) Fail(e.line, "lists and dicts nested too deeply");
      return r;
    }
    case ExprKind::kTest: {
      const Value v = Eval(*e.args[0]);
      return Value(ApplyTest(e.name, v, EvalArgs(e, 1)) != e.negated);
    }
    case ExprKind::kUnary: {
      const Value v = Eval(*e.args[0]);
      if (e.name == "not") return Value(!v.Truthy());
      if (e.name == "+" && IsNum(v)) return v;
      if (e.name == "-" && IsIntLike(v)) return Arithmetic("-", Value(int64_t{0}), v, e.line);
      if (e.name == "-" && v.is_float()) return Value(-v.as_float());
      if (v.is_undefined()) Fail(e.line, Cat({"'", v.undefined_name(), "' is undefined"}));
      Fail(e.line, Cat({"bad operand type for unary ", e.name, ": '", v.TypeName(), "'"}));
    }
    case ExprKind::kBinary:
      return EvalBinary(e);
    case ExprKind::kCondition:
      if (Eval(*e.args[0]).Truthy()) return Eval(*e.args[1]);
      return e.args[2] ? Eval(*e.args[2]) : Value::Undef("else");
  }
  return Value();
}

Value Evaluator::EvalBinary(const Expr& e) {
  const std::string& op = e.name;
  const Value l = Eval(*e.args[0]);
  if (op == "and") return l.Truthy() ? Eval(*e.args[1]) : l;
  if (op == "or") return l.Truthy() ? l : Eval(*e.args[1]);
  const Value r = Eval(*e.args[1]);
  if (op == "~") {
    std::string s = l.Str();
    s.append(r.Str());
    CheckString(s, e.line);
    return Value(std::move(s));
  }
  if (op == "==") return Value(l.Equals(r));
  if (op == "!=") return Value(!l.Equals(r));
  if (op == "<") return Value(Compare(l, r, e.line) < 0);
  if (op == ">") return Value(Compare(l, r, e.line) > 0);
  if (op == "<=") return Value(Compare(l, r, e.line) <= 0);
  if (op == ">=") return Value(Compare(l, r, e.line) >= 0);
  if (op == "in") return Value(Contains(r, l, e.line));
  if (op == "not in") return Value(!Contains(r, l, e.line));
  return Arithmetic(op, l, r, e.line);
}

Value Evaluator::EvalCall(const Expr& e) {
  const Expr& callee = *e.args[0];
  Value fn;
  if (callee.kind == ExprKind::kGetAttr) {
    const Value obj = Eval(*callee.args[0]);
    CallArgs args = EvalArgs(e, 1);
    if (auto r = CallMethod(obj, callee.name, args)) return *r;
    fn = GetAttr(obj, callee.name, e.line);
    if (!fn.is_function()) {
      Fail(e.line, Cat({"'", obj.TypeName(), "' object has no method '", callee.name, "'"}));
    }
    return fn.as_function()(args);
  }
  fn = Eval(callee);
  if (fn.is_undefined()) Fail(e.line, Cat({"'", fn.undefined_name(), "' is undefined"}));
  if (!fn.is_function()) Fail(e.line, Cat({"'", fn.TypeName(), "' object is not callable"}));
  CallArgs args = EvalArgs(e, 1);
  return fn.as_function()(args);
}

Value Evaluator::EvalSlice(const Expr& e) {
  const Value obj = Eval(*e.args[0]);
  std::optional<int64_t> bounds[3];
  for (int i = 0; i < 3; ++i) {
    if (e.args[static_cast<size_t>(i) + 1]) bounds[i] = SliceBound(Eval(*e.args[static_cast<size_t>(i) + 1]), e.line);
  }
  const int64_t step = bounds[2].value_or(1);
  if (step == 0) Fail(e.line, "slice step cannot be zero");
  if (obj.is_string()) {
    const std::vector<std::string> cps = CodePoints(obj.as_string());
    std::string out;
    for (size_t i : SliceIndices(cps.size(), bounds[0], bounds[1], step)) out += cps[i];
    return Value(std::move(out));
  }
  if (obj.is_list()) {
    const ValueList& l = obj.as_list();
    ValueList out;
    for (size_t i : SliceIndices(l.size(), bounds[0], bounds[1], step)) out.push_back(l[i]);
    return Value(std::move(out));
  }
  if (obj.is_undefined()) Fail(e.line, Cat({"'", obj.undefined_name(), "' is undefined"}));
  Fail(e.line, Cat({"'", obj.TypeName(), "' object is not subscriptable"}));
}

}  // namespace hearth::model::jinja
