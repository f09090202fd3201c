// Attribute and item access, iteration, and the size checks (builtins.h).
#include <cstdlib>

#include "model/jinja/builtins.h"
#include "model/jinja/error.h"
#include "model/jinja/limits.h"
#include "model/jinja/strings.h"

namespace hearth::model::jinja {

void CheckString(const std::string& s, int line) {
  if (s.size() > kMaxStringBytes) Fail(line, "template built a string longer than the limit");
}

void CheckList(size_t n, int line) {
  if (n > kMaxListItems) Fail(line, "template built a list longer than the limit");
}

[[noreturn]] static void UndefinedUse(const Value& v, int line) {
  Fail(line, Cat({"'", v.undefined_name(), "' is undefined"}));
}

Value GetAttr(const Value& obj, const std::string& name, int line) {
  if (obj.is_undefined()) UndefinedUse(obj, line);
  if (obj.is_dict()) {
    if (const Value* v = obj.as_dict().Find(name)) return *v;
  }
  return Value::Undef(name);
}

Value GetItem(const Value& obj, const Value& key, int line) {
  if (obj.is_undefined()) UndefinedUse(obj, line);
  if (obj.is_dict()) {
    if (key.is_string()) {
      if (const Value* v = obj.as_dict().Find(key.as_string())) return *v;
    }
    return Value::Undef(key.Str());
  }
  if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    const int64_t k = key.is_int() ? key.as_int() : key.as_bool();
    if (obj.is_list()) {
      const ValueList& l = obj.as_list();
      const int64_t i = k < 0 ? k + static_cast<int64_t>(l.size()) : k;
      if (i >= 0 && i < static_cast<int64_t>(l.size())) return l[static_cast<size_t>(i)];
    } else {
      const std::vector<std::string> cps = CodePoints(obj.as_string());
      const int64_t i = k < 0 ? k + static_cast<int64_t>(cps.size()) : k;
      if (i >= 0 && i < static_cast<int64_t>(cps.size())) return Value(cps[static_cast<size_t>(i)]);
    }
    return Value::Undef(key.Str());
  }
  if (key.is_string()) return GetAttr(obj, key.as_string(), line);
  return Value::Undef(key.Str());
}

ValueList Iterate(const Value& v, int line) {
  if (v.is_undefined()) return {};
  if (v.is_list()) return v.as_list();
  if (v.is_dict() && !v.as_dict().is_namespace) {
    ValueList keys;
    for (const auto& [k, e] : v.as_dict().items) keys.emplace_back(k);
    return keys;
  }
  if (v.is_string()) {
    ValueList out;
    for (std::string& cp : CodePoints(v.as_string())) out.emplace_back(std::move(cp));
    return out;
  }
  Fail(line, Cat({"'", v.TypeName(), "' object is not iterable"}));
}

namespace {

std::optional<std::string> OptString(const Value& v, int line) {
  if (v.is_undefined() || v.is_none()) return std::nullopt;
  if (!v.is_string()) Fail(line, "expected a string argument, got " + v.TypeName());
  return v.as_string();
}

int64_t IntArg(const Value& v, int64_t dflt, int line) {
  if (v.is_undefined() || v.is_none()) return dflt;
  if (!v.is_int()) Fail(line, "expected an integer argument, got " + v.TypeName());
  return v.as_int();
}

bool AffixMatch(const std::string& s, const Value& affix, bool prefix, int line) {
  ValueList options = affix.is_list() ? affix.as_list() : ValueList{affix};
  for (const Value& o : options) {
    if (!o.is_string()) Fail(line, "startswith/endswith takes a string or a tuple of strings");
    if (prefix ? s.starts_with(o.as_string()) : s.ends_with(o.as_string())) return true;
  }
  return false;
}

std::optional<Value> StringMethod(const std::string& s, const std::string& name, const CallArgs& a) {
  const int line = a.line;
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    return Value(Strip(s, name != "rstrip", name != "lstrip", OptString(a.Get(0, "chars"), line)));
  }
  if (name == "split" || name == "rsplit") {
    if (name == "rsplit" && IntArg(a.Get(1, "maxsplit"), -1, line) >= 0) {
      Fail(line, "rsplit with maxsplit is not supported");
    }
    ValueList out;
    for (std::string& p : Split(s, OptString(a.Get(0, "sep"), line), IntArg(a.Get(1, "maxsplit"), -1, line))) {
      out.emplace_back(std::move(p));
    }
    return Value(std::move(out));
  }
  if (name == "startswith" || name == "endswith") {
    return Value(AffixMatch(s, a.Get(0, "prefix"), name == "startswith", line));
  }
  if (name == "upper") return Value(Upper(s));
  if (name == "lower") return Value(Lower(s));
  if (name == "title") return Value(PyTitle(s));
  if (name == "capitalize") return Value(Capitalize(s));
  if (name == "replace") {
    auto from = OptString(a.Get(0, "old"), line), to = OptString(a.Get(1, "new"), line);
    if (!from || !to) Fail(line, "replace needs two strings");
    std::string out = ReplaceAll(s, *from, *to, IntArg(a.Get(2, "count"), -1, line));
    CheckString(out, line);
    return Value(std::move(out));
  }
  if (name == "find") {
    auto what = OptString(a.Get(0, "sub"), line);
    if (!what) Fail(line, "find needs a string");
    const size_t at = s.find(*what);
    return Value(at == std::string::npos ? int64_t{-1} : static_cast<int64_t>(CodePoints(s.substr(0, at)).size()));
  }
  if (name == "count") {
    auto what = OptString(a.Get(0, "sub"), line);
    if (!what || what->empty()) Fail(line, "count needs a non-empty string");
    int64_t n = 0;
    for (size_t at = s.find(*what); at != std::string::npos; at = s.find(*what, at + what->size())) ++n;
    return Value(n);
  }
  if (name == "join") {
    std::string out;
    const ValueList items = Iterate(a.Get(0, "iterable"), line);
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += s;
      if (!items[i].is_string()) Fail(line, "str.join needs strings");
      out += items[i].as_string();
      CheckString(out, line);
    }
    return Value(std::move(out));
  }
  if (name == "isdigit" || name == "isalpha" || name == "isspace") {
    if (s.empty()) return Value(false);
    for (char c : s) {
      const bool ok = name == "isdigit" ? (c >= '0' && c <= '9')
                      : name == "isalpha" ? ((c | 32) >= 'a' && (c | 32) <= 'z')
                                          : (c == ' ' || (c >= 9 && c <= 13));
      if (!ok) return Value(false);
    }
    return Value(true);
  }
  return std::nullopt;
}

std::optional<Value> DictMethod(const ValueDict& d, const std::string& name, const CallArgs& a) {
  if (d.is_namespace) return std::nullopt;
  if (name == "get") {
    const Value key = a.Get(0, "key");
    const Value* v = key.is_string() ? d.Find(key.as_string()) : nullptr;
    if (v) return *v;
    const Value dflt = a.Get(1, "default");
    return dflt.is_undefined() ? Value::Null() : dflt;
  }
  if (name == "items" || name == "keys" || name == "values") {
    ValueList out;
    for (const auto& [k, v] : d.items) {
      if (name == "items") out.emplace_back(ValueList{Value(k), v});
      else if (name == "keys") out.emplace_back(k);
      else out.push_back(v);
    }
    return Value(std::move(out));
  }
  return std::nullopt;
}

}  // namespace

std::optional<Value> CallMethod(const Value& obj, const std::string& name, const CallArgs& args) {
  if (obj.is_string()) return StringMethod(obj.as_string(), name, args);
  if (obj.is_dict()) return DictMethod(obj.as_dict(), name, args);
  return std::nullopt;
}

}  // namespace hearth::model::jinja
