#include "model/jinja/template.h"

#include "model/jinja/ast.h"
#include "model/jinja/builtins.h"
#include "model/jinja/error.h"
#include "model/jinja/evaluator.h"
#include "model/jinja/limits.h"
#include "model/jinja/parser.h"

namespace hearth::model::jinja {
namespace {

Status ErrorStatus(const TemplateError& e) {
  return Status::InvalidArgument("line " + std::to_string(e.line) + ": " + e.message);
}

Value Range(CallArgs& a) {
  int64_t start = 0, stop = 0, step = 1;
  for (const Value& v : a.positional) {
    if (!v.is_int()) Fail(a.line, "range() needs integers");
  }
  if (a.positional.size() == 1) {
    stop = a.positional[0].as_int();
  } else if (a.positional.size() >= 2) {
    start = a.positional[0].as_int();
    stop = a.positional[1].as_int();
    if (a.positional.size() >= 3) step = a.positional[2].as_int();
  } else {
    Fail(a.line, "range() needs 1 to 3 arguments");
  }
  if (step == 0) Fail(a.line, "range() step must not be zero");
  const double count = (static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step);
  if (count > static_cast<double>(kMaxListItems)) CheckList(kMaxListItems + 1, a.line);
  ValueList out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.emplace_back(i);
  return Value(std::move(out));
}

std::string StrftimeNow(const std::string& fmt, std::time_t now, int line) {
  std::tm tm{};
  localtime_r(&now, &tm);
  if (fmt.size() > 256) Fail(line, "strftime_now format too long");
  char buf[1024];
  const size_t n = std::strftime(buf, sizeof(buf), fmt.c_str(), &tm);
  if (n == 0 && !fmt.empty()) Fail(line, Cat({"strftime_now could not format '", fmt, "'"}));
  return std::string(buf, n);
}

std::unordered_map<std::string, Value> Globals(const std::unordered_map<std::string, Value>& vars,
                                               std::time_t now) {
  std::unordered_map<std::string, Value> g = vars;
  g["range"] = Value::Function("range", Range);
  auto make_dict = [](CallArgs& a, bool is_namespace) {
    ValueDict d;
    d.is_namespace = is_namespace;
    for (const Value& p : a.positional) {
      if (!p.is_dict()) Fail(a.line, "expected keyword arguments or a dict");
      for (const auto& [k, v] : p.as_dict().items) d.Set(k, v);
    }
    for (const auto& [k, v] : a.keyword) d.Set(k, v);
    return Value(std::move(d));
  };
  g["namespace"] = Value::Function("namespace", [make_dict](CallArgs& a) { return make_dict(a, true); });
  g["dict"] = Value::Function("dict", [make_dict](CallArgs& a) { return make_dict(a, false); });
  g["raise_exception"] = Value::Function("raise_exception", [](CallArgs& a) -> Value {
    Fail(a.line, "the template raised an error: " + a.Get(0, "message").Str());
  });
  g["strftime_now"] = Value::Function("strftime_now", [now](CallArgs& a) {
    return Value(StrftimeNow(a.Get(0, "format").Str(), now, a.line));
  });
  return g;
}

}  // namespace

StatusOr<Template> Template::Parse(std::string_view source) {
  try {
    auto body = std::make_shared<Body>(jinja::Parse(source));
    return Template(std::move(body));
  } catch (const TemplateError& e) {
    return ErrorStatus(e);
  }
}

StatusOr<std::string> Template::Render(const std::unordered_map<std::string, Value>& variables,
                                       std::time_t now) const {
  try {
    Evaluator evaluator(Globals(variables, now));
    return evaluator.Render(*body_);
  } catch (const TemplateError& e) {
    return ErrorStatus(e);
  }
}

}  // namespace hearth::model::jinja
