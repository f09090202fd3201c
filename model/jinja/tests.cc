// Jinja's tests (`x is defined`, `n is divisibleby(3)`), and value ordering (builtins.h).
#include "model/jinja/builtins.h"
#include "model/jinja/error.h"

namespace hearth::model::jinja {

int Compare(const Value& a, const Value& b, int line) {
  if ((a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool())) {
    if ((a.is_int() || a.is_bool()) && (b.is_int() || b.is_bool())) {
      const int64_t x = a.is_int() ? a.as_int() : a.as_bool(), y = b.is_int() ? b.as_int() : b.as_bool();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    const double x = a.as_double(), y = b.as_double();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list()) {
    const ValueList &x = a.as_list(), &y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (const int c = Compare(x[i], y[i], line)) return c;
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  Fail(line, Cat({"cannot compare ", a.TypeName(), " with ", b.TypeName()}));
}

bool ApplyTest(const std::string& name, const Value& v, const CallArgs& args) {
  const int line = args.line;
  const Value arg = args.Get(0, "value");
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number() || v.is_bool();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "mapping") return v.is_dict() && !v.as_dict().is_namespace;
  if (name == "iterable" || name == "sequence") {
    return v.is_list() || v.is_string() || v.is_undefined() || (v.is_dict() && !v.as_dict().is_namespace);
  }
  if (name == "callable") return v.is_function();
  if (name == "odd" || name == "even") {
    if (!v.is_int()) Fail(line, Cat({"'", name, "' needs an integer"}));
    return (v.as_int() % 2 != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    if (!v.is_int() || !arg.is_int() || arg.as_int() == 0) Fail(line, "'divisibleby' needs integers");
    return v.as_int() % arg.as_int() == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return v.Equals(arg);
  if (name == "ne" || name == "!=") return !v.Equals(arg);
  // Identity is meaningful here only for none, booleans and equal scalars of one type.
  if (name == "sameas") return v.TypeName() == arg.TypeName() && v.Equals(arg);
  if (name == "lt" || name == "<") return Compare(v, arg, line) < 0;
  if (name == "le" || name == "<=") return Compare(v, arg, line) <= 0;
  if (name == "gt" || name == ">") return Compare(v, arg, line) > 0;
  if (name == "ge" || name == ">=") return Compare(v, arg, line) >= 0;
  if (name == "in") {
    if (arg.is_string() && v.is_string()) return arg.as_string().find(v.as_string()) != std::string::npos;
    for (const Value& e : Iterate(arg, line)) {
      if (e.Equals(v)) return true;
    }
    return false;
  }
  if (name == "lower" || name == "upper") {
    if (!v.is_string()) return false;
    bool cased = false;
    for (char c : v.as_string()) {
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        cased = true;
        if ((c >= 'a' && c <= 'z') != (name == "lower")) return false;
      }
    }
    return cased;
  }
  Fail(line, Cat({"unknown test '", name, "'"}));
}

}  // namespace hearth::model::jinja
