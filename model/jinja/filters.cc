// Jinja's built-in filters (builtins.h), with tojson as transformers overrides it: no HTML
// escaping, non-ASCII kept, keys in insertion order.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "model/jinja/builtins.h"
#include "model/jinja/error.h"
#include "model/jinja/strings.h"

namespace hearth::model::jinja {
namespace {

int64_t Length(const Value& v, int line) {
  if (v.is_undefined()) return 0;
  if (v.is_string()) return static_cast<int64_t>(CodePoints(v.as_string()).size());
  if (v.is_list()) return static_cast<int64_t>(v.as_list().size());
  if (v.is_dict() && !v.as_dict().is_namespace) return static_cast<int64_t>(v.as_dict().items.size());
  Fail(line, Cat({"object of type '", v.TypeName(), "' has no length"}));
}

bool Arg(const Value& v, bool dflt) { return v.is_undefined() ? dflt : v.Truthy(); }

// attribute="a.b" or an integer index, as jinja's make_attrgetter.
Value Attribute(const Value& item, const Value& attr, int line) {
  if (attr.is_int()) return GetItem(item, attr, line);
  Value v = item;
  const std::string path = attr.Str();
  size_t from = 0;
  while (true) {
    const size_t dot = path.find('.', from);
    const std::string part = path.substr(from, dot == std::string::npos ? std::string::npos : dot - from);
    v = v.is_undefined() ? v : GetItem(v, Value(part), line);
    if (dot == std::string::npos) return v;
    from = dot + 1;
  }
}

// Arguments from `from` on, for the test or filter that select/map pass along.
CallArgs Rest(const CallArgs& a, size_t from) {
  CallArgs out;
  out.line = a.line;
  for (size_t i = from; i < a.positional.size(); ++i) out.positional.push_back(a.positional[i]);
  return out;
}

// select/reject and map skip a falsy input (none included) as jinja2's do as they test it first.
Value Select(const Value& v, const CallArgs& a, bool by_attr, bool keep) {
  ValueList out;
  if (!v.Truthy()) return Value(std::move(out));
  const size_t test_at = by_attr ? 1 : 0;
  const Value test = a.Get(test_at, "");
  const CallArgs test_args = Rest(a, test_at + 1);
  for (const Value& item : Iterate(v, a.line)) {
    const Value subject = by_attr ? Attribute(item, a.Get(0, "attribute"), a.line) : item;
    const bool pass = test.is_undefined() ? subject.Truthy() : ApplyTest(test.Str(), subject, test_args);
    if (pass == keep) out.push_back(item);
  }
  return Value(std::move(out));
}

Value Map(const Value& v, const CallArgs& a) {
  ValueList out;
  if (!v.Truthy()) return Value(std::move(out));
  const Value attr = a.Get(99, "attribute");
  for (const Value& item : Iterate(v, a.line)) {
    if (!attr.is_undefined()) {
      Value x = Attribute(item, attr, a.line);
      if (x.is_undefined()) {
        const Value dflt = a.Get(99, "default");
        if (!dflt.is_undefined()) x = dflt;
      }
      out.push_back(std::move(x));
    } else {
      const Value filter = a.Get(0, "");
      if (!filter.is_string()) Fail(a.line, "map needs a filter name or attribute=");
      out.push_back(ApplyFilter(filter.as_string(), item, Rest(a, 1)));
    }
  }
  return Value(std::move(out));
}

// Sort key: a case-folded copy of strings unless case_sensitive.
Value SortKey(const Value& v, bool case_sensitive) {
  return (!case_sensitive && v.is_string()) ? Value(Lower(v.as_string())) : v;
}

Value Sort(const Value& v, const CallArgs& a) {
  ValueList items = Iterate(v, a.line);
  const bool reverse = Arg(a.Get(0, "reverse"), false), cs = Arg(a.Get(1, "case_sensitive"), false);
  const Value attr = a.Get(2, "attribute");
  std::vector<std::pair<Value, Value>> keyed;
  for (Value& item : items) {
    Value key = attr.is_undefined() ? item : Attribute(item, attr, a.line);
    keyed.emplace_back(SortKey(key, cs), std::move(item));
  }
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    return reverse ? Compare(y.first, x.first, a.line) < 0 : Compare(x.first, y.first, a.line) < 0;
  });
  ValueList out;
  for (auto& [k, item] : keyed) out.push_back(std::move(item));
  return Value(std::move(out));
}

Value DictSort(const Value& v, const CallArgs& a) {
  if (!v.is_dict()) Fail(a.line, "dictsort needs a dict");
  const bool cs = Arg(a.Get(0, "case_sensitive"), false), by_value = a.Get(1, "by").Str() == "value";
  const bool reverse = Arg(a.Get(2, "reverse"), false);
  auto items = v.as_dict().items;
  std::stable_sort(items.begin(), items.end(), [&](const auto& x, const auto& y) {
    const Value kx = SortKey(by_value ? x.second : Value(x.first), cs);
    const Value ky = SortKey(by_value ? y.second : Value(y.first), cs);
    return reverse ? Compare(ky, kx, a.line) < 0 : Compare(kx, ky, a.line) < 0;
  });
  ValueList out;
  for (auto& [k, e] : items) out.emplace_back(ValueList{Value(k), e});
  return Value(std::move(out));
}

Value Unique(const Value& v, const CallArgs& a) {
  const bool cs = Arg(a.Get(0, "case_sensitive"), false);
  const Value attr = a.Get(1, "attribute");
  ValueList out, seen;
  for (const Value& item : Iterate(v, a.line)) {
    const Value key = SortKey(attr.is_undefined() ? item : Attribute(item, attr, a.line), cs);
    bool dup = false;
    for (const Value& s : seen) dup = dup || s.Equals(key);
    if (dup) continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return Value(std::move(out));
}

std::string Indent(const std::string& s, const CallArgs& a) {
  const Value w = a.Get(0, "width");
  const std::string pad = w.is_string() ? w.as_string() : std::string(static_cast<size_t>(std::clamp<int64_t>(w.is_int() ? w.as_int() : 4, 0, 256)), ' ');
  const bool first = Arg(a.Get(1, "first"), false), blank = Arg(a.Get(2, "blank"), false);
  std::vector<std::string> lines;
  std::string cur;
  const std::string text = s + "\n";
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' || text[i] == '\r') {
      if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      lines.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(text[i]);
    }
  }
  if (!cur.empty()) lines.push_back(std::move(cur));
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i == 0) {
      out = lines[0];
      continue;
    }
    out += "\n";
    if (blank || !lines[i].empty()) out += pad;
    out += lines[i];
    CheckString(out, a.line);
  }
  return first ? pad + out : out;
}

Value ToInt(const Value& v, const CallArgs& a) {
  const Value dflt = a.Get(0, "default");
  if (v.is_int()) return v;
  if (v.is_bool()) return Value(int64_t{v.as_bool()});
  if (v.is_float() && std::isfinite(v.as_float()) && std::fabs(v.as_float()) < 9e18) {
    return Value(static_cast<int64_t>(v.as_float()));
  }
  if (v.is_string()) {
    const std::string s = Strip(v.as_string(), true, true, std::nullopt);
    char* end = nullptr;
    errno = 0;
    const long long i = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && *end == '\0' && errno == 0) return Value(static_cast<int64_t>(i));
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && *end == '\0' && std::isfinite(d) && std::fabs(d) < 9e18) return Value(static_cast<int64_t>(d));
  }
  return dflt.is_undefined() ? Value(int64_t{0}) : dflt;
}

Value ToFloat(const Value& v, const CallArgs& a) {
  const Value dflt = a.Get(0, "default");
  if (v.is_number() || v.is_bool()) return Value(v.as_double());
  if (v.is_string()) {
    const std::string s = Strip(v.as_string(), true, true, std::nullopt);
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && *end == '\0') return Value(d);
  }
  return dflt.is_undefined() ? Value(0.0) : dflt;
}

Value Round(const Value& v, const CallArgs& a) {
  if (!v.is_number() && !v.is_bool()) Fail(a.line, "round needs a number");
  const int64_t precision = a.Get(0, "precision").is_int() ? a.Get(0, "precision").as_int() : 0;
  const std::string method = a.Get(1, "method").is_string() ? a.Get(1, "method").as_string() : "common";
  const double scale = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(precision, -300, 300)));
  const double x = v.as_double() * scale;
  const double r = method == "floor" ? std::floor(x) : method == "ceil" ? std::ceil(x) : std::nearbyint(x);
  return Value(r / scale);
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

}  // namespace

Value ApplyFilter(const std::string& name, const Value& v, const CallArgs& a) {
  const int line = a.line;
  auto str = [&] { return v.Str(); };  // string filters take str() of any value
  if (name == "trim") {
    const Value chars = a.Get(0, "chars");
    return Value(Strip(str(), true, true, chars.is_string() ? std::optional(chars.as_string()) : std::nullopt));
  }
  if (name == "upper") return Value(Upper(str()));
  if (name == "lower") return Value(Lower(str()));
  if (name == "title") return Value(JinjaTitle(str()));
  if (name == "capitalize") return Value(Capitalize(str()));
  if (name == "length" || name == "count") return Value(Length(v, line));
  if (name == "string") return Value(str());
  if (name == "safe") return v;
  if (name == "e" || name == "escape") return Value(Escape(str()));
  if (name == "int") return ToInt(v, a);
  if (name == "float") return ToFloat(v, a);
  if (name == "abs") {
    if (v.is_int()) return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
    if (v.is_float() || v.is_bool()) return v.is_bool() ? Value(int64_t{v.as_bool()}) : Value(std::fabs(v.as_float()));
    Fail(line, "abs needs a number");
  }
  if (name == "round") return Round(v, a);
  if (name == "tojson") {
    const Value indent = a.Get(0, "indent");
    bool ok = true;
    std::string out = ToJson(v, indent.is_int() ? static_cast<int>(std::clamp<int64_t>(indent.as_int(), 0, 64)) : -1, &ok);
    if (!ok) Fail(line, Cat({"tojson: a ", v.TypeName(), " (or a value inside it) is not JSON serializable"}));
    CheckString(out, line);
    return Value(std::move(out));
  }
  if (name == "default" || name == "d") {
    const bool boolean = Arg(a.Get(1, "boolean"), false);
    if (v.is_undefined() || (boolean && !v.Truthy())) {
      const Value d = a.Get(0, "default_value");
      return d.is_undefined() ? Value("") : d;
    }
    return v;
  }
  if (name == "join") {
    const Value sep = a.Get(0, "d"), attr = a.Get(1, "attribute");
    std::string out;
    const ValueList items = Iterate(v, line);
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += sep.Str();
      out += (attr.is_undefined() ? items[i] : Attribute(items[i], attr, line)).Str();
      CheckString(out, line);
    }
    return Value(std::move(out));
  }
  if (name == "first" || name == "last") {
    const ValueList items = Iterate(v, line);
    if (items.empty()) return Value::Undef(name);
    return name == "first" ? items.front() : items.back();
  }
  if (name == "replace") {
    const Value from = a.Get(0, "old"), to = a.Get(1, "new"), count = a.Get(2, "count");
    std::string out = ReplaceAll(str(), from.Str(), to.Str(), count.is_int() ? count.as_int() : -1);
    CheckString(out, line);
    return Value(std::move(out));
  }
  if (name == "items") {
    if (v.is_undefined()) return Value(ValueList{});
    if (!v.is_dict()) Fail(line, "items needs a dict");
    return *CallMethod(v, "items", CallArgs{});
  }
  if (name == "list") return Value(Iterate(v, line));
  if (name == "reverse") {
    if (v.is_string()) {
      std::vector<std::string> cps = CodePoints(v.as_string());
      std::string out;
      for (auto it = cps.rbegin(); it != cps.rend(); ++it) out += *it;
      return Value(std::move(out));
    }
    ValueList items = Iterate(v, line);
    std::reverse(items.begin(), items.end());
    return Value(std::move(items));
  }
  if (name == "selectattr" || name == "rejectattr") return Select(v, a, true, name == "selectattr");
  if (name == "select" || name == "reject") return Select(v, a, false, name == "select");
  if (name == "map") return Map(v, a);
  if (name == "unique") return Unique(v, a);
  if (name == "sort") return Sort(v, a);
  if (name == "dictsort") return DictSort(v, a);
  if (name == "indent") return Value(Indent(str(), a));
  if (name == "sum") {
    Value total = a.Get(1, "start").is_undefined() ? Value(int64_t{0}) : a.Get(1, "start");
    const Value attr = a.Get(0, "attribute");
    for (const Value& item : Iterate(v, line)) {
      const Value x = attr.is_undefined() ? item : Attribute(item, attr, line);
      if (!(x.is_number() || x.is_bool()) || !(total.is_number() || total.is_bool())) Fail(line, "sum needs numbers");
      if (total.is_int() && (x.is_int() || x.is_bool())) {
        total = Value(total.as_int() + (x.is_int() ? x.as_int() : x.as_bool()));
      } else {
        total = Value(total.as_double() + x.as_double());
      }
    }
    return total;
  }
  if (name == "min" || name == "max") {
    const ValueList items = Iterate(v, line);
    if (items.empty()) return Value::Undef(name);
    Value best = items[0];
    for (const Value& x : items) {
      const int c = Compare(SortKey(x, false), SortKey(best, false), line);
      if (name == "min" ? c < 0 : c > 0) best = x;
    }
    return best;
  }
  if (name == "wordcount") return Value(static_cast<int64_t>(Split(str(), std::nullopt, -1).size()));
  Fail(line, Cat({"unknown filter '", name, "'"}));
}

}  // namespace hearth::model::jinja
