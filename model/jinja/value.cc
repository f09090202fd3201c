#include "model/jinja/value.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace hearth::model::jinja {

const Value* ValueDict::Find(std::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k == key) return &v;
  }
  return nullptr;
}

void ValueDict::Set(std::string key, Value v) {
  for (auto& [k, old] : items) {
    if (k == key) {
      old = std::move(v);
      return;
    }
  }
  items.emplace_back(std::move(key), std::move(v));
}

Value::Value(ValueList l) {
  for (const Value& e : l) depth_ = std::max(depth_, e.depth_ + 1);
  if (l.empty()) depth_ = 1;
  v_ = std::make_shared<ValueList>(std::move(l));
}

Value::Value(ValueDict d) {
  for (const auto& [k, e] : d.items) depth_ = std::max(depth_, e.depth_ + 1);
  if (d.items.empty()) depth_ = 1;
  v_ = std::make_shared<ValueDict>(std::move(d));
}

Value Value::Function(std::string name, NativeFunction f) {
  Value v;
  v.v_ = std::make_shared<FunctionBox>(FunctionBox{std::move(name), std::move(f)});
  return v;
}

double Value::as_double() const {
  if (is_int()) return static_cast<double>(as_int());
  if (is_bool()) return as_bool() ? 1.0 : 0.0;
  return as_float();
}

bool Value::Truthy() const {
  if (is_undefined() || is_none()) return false;
  if (is_bool()) return as_bool();
  if (is_int()) return as_int() != 0;
  if (is_float()) return as_float() != 0.0;
  if (is_string()) return !as_string().empty();
  if (is_list()) return !as_list().empty();
  if (is_dict()) return as_dict().is_namespace || !as_dict().items.empty();
  return true;
}

std::string Value::TypeName() const {
  if (is_undefined()) return "undefined";
  if (is_none()) return "none";
  if (is_bool()) return "boolean";
  if (is_int()) return "integer";
  if (is_float()) return "float";
  if (is_string()) return "string";
  if (is_list()) return "list";
  if (is_dict()) return as_dict().is_namespace ? "namespace" : "dict";
  return "function";
}

std::string FloatRepr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  // Python's repr: the shortest round-tripping digits, positional for exponents in [-4, 16).
  auto r = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  const size_t e = sci.find('e');
  const int exp = std::stoi(sci.substr(e + 1));
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.' && c != '-') digits.push_back(c);
  }
  const bool neg = d < 0 || (d == 0 && std::signbit(d));
  std::string out = neg ? "-" : "";
  if (exp >= 16 || exp < -4) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out.append(".").append(digits.substr(1));
    char eb[16];
    std::snprintf(eb, sizeof(eb), "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    return out.append(eb);
  }
  if (exp < 0) return out.append("0.").append(static_cast<size_t>(-exp - 1), '0').append(digits);
  const size_t int_len = static_cast<size_t>(exp) + 1;
  if (digits.size() <= int_len) {
    return out.append(digits).append(int_len - digits.size(), '0').append(".0");
  }
  return out.append(digits.substr(0, int_len)).append(".").append(digits.substr(int_len));
}

namespace {

std::string StringRepr(const std::string& s) {
  const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
  const char q = dq ? '"' : '\'';
  std::string out(1, q);
  for (unsigned char c : s) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c == static_cast<unsigned char>(q)) {
          out += '\\';
          out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
          char b[8];
          std::snprintf(b, sizeof(b), "\\x%02x", c);
          out += b;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += q;
  return out;
}

}  // namespace

std::string Value::Str() const {
  if (is_undefined()) return "";
  if (is_string()) return as_string();
  return Repr();
}

std::string Value::Repr() const {
  if (is_undefined()) return "";
  if (is_none()) return "None";
  if (is_bool()) return as_bool() ? "True" : "False";
  if (is_int()) return std::to_string(as_int());
  if (is_float()) return FloatRepr(as_float());
  if (is_string()) return StringRepr(as_string());
  if (is_list()) {
    std::string out = "[";
    for (size_t i = 0; i < as_list().size(); ++i) {
      if (i) out += ", ";
      out += as_list()[i].Repr();
    }
    return out + "]";
  }
  if (is_dict()) {
    if (as_dict().is_namespace) return "<Namespace>";
    std::string out = "{";
    bool first = true;
    for (const auto& [k, v] : as_dict().items) {
      if (!first) out += ", ";
      first = false;
      out += StringRepr(k);
      out += ": ";
      out += v.Repr();
    }
    return out + "}";
  }
  std::string out = "<function ";
  return out.append(std::get<std::shared_ptr<FunctionBox>>(v_)->name).append(">");
}

bool Value::Equals(const Value& o) const {
  if ((is_number() || is_bool()) && (o.is_number() || o.is_bool())) {
    if ((is_int() || is_bool()) && (o.is_int() || o.is_bool())) {
      const int64_t a = is_int() ? as_int() : as_bool();
      const int64_t b = o.is_int() ? o.as_int() : o.as_bool();
      return a == b;
    }
    return as_double() == o.as_double();
  }
  if (is_undefined() || o.is_undefined()) return is_undefined() && o.is_undefined();
  if (is_none() || o.is_none()) return is_none() && o.is_none();
  if (is_string() && o.is_string()) return as_string() == o.as_string();
  if (is_list() && o.is_list()) {
    const ValueList &a = as_list(), &b = o.as_list();
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].Equals(b[i])) return false;
    }
    return true;
  }
  if (is_dict() && o.is_dict()) {
    const ValueDict &a = as_dict(), &b = o.as_dict();
    if (&a == &b) return true;
    if (a.is_namespace || b.is_namespace || a.items.size() != b.items.size()) return false;
    for (const auto& [k, v] : a.items) {
      const Value* w = b.Find(k);
      if (!w || !v.Equals(*w)) return false;
    }
    return true;
  }
  if (is_function() && o.is_function()) {
    return std::get<std::shared_ptr<FunctionBox>>(v_) == std::get<std::shared_ptr<FunctionBox>>(o.v_);
  }
  return false;
}

Value CallArgs::Get(size_t index, std::string_view name) const {
  if (index < positional.size()) return positional[index];
  for (const auto& [k, v] : keyword) {
    if (k == name) return v;
  }
  return Value::Undef(std::string(name));
}

// --- JSON ------------------------------------------------------------------------------------

namespace {

constexpr int kMaxJsonDepth = 64;

StatusOr<Value> FromRapid(const rapidjson::Value& j, int depth) {
  if (depth > kMaxJsonDepth) return Status::InvalidArgument("JSON nested too deeply");
  if (j.IsNull()) return Value::Null();
  if (j.IsBool()) return Value(j.GetBool());
  if (j.IsInt64()) return Value(j.GetInt64());
  if (j.IsNumber()) return Value(j.GetDouble());
  if (j.IsString()) return Value(std::string(j.GetString(), j.GetStringLength()));
  if (j.IsArray()) {
    ValueList list;
    for (const auto& e : j.GetArray()) {
      HEARTH_ASSIGN_OR_RETURN(Value v, FromRapid(e, depth + 1));
      list.push_back(std::move(v));
    }
    return Value(std::move(list));
  }
  ValueDict dict;
  for (const auto& m : j.GetObject()) {
    HEARTH_ASSIGN_OR_RETURN(Value v, FromRapid(m.value, depth + 1));
    dict.Set(std::string(m.name.GetString(), m.name.GetStringLength()), std::move(v));
  }
  return Value(std::move(dict));
}

void JsonString(const std::string& s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof(b), "\\u%04x", c);
          *out += b;
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

bool Dump(const Value& v, int indent, int level, std::string* out) {
  auto newline = [&](int lvl) {
    out->push_back('\n');
    out->append(static_cast<size_t>(indent) * static_cast<size_t>(lvl), ' ');
  };
  if (v.is_none()) {
    *out += "null";
  } else if (v.is_bool()) {
    *out += v.as_bool() ? "true" : "false";
  } else if (v.is_int()) {
    *out += std::to_string(v.as_int());
  } else if (v.is_float()) {
    const double d = v.as_float();
    *out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity") : FloatRepr(d);
  } else if (v.is_string()) {
    JsonString(v.as_string(), out);
  } else if (v.is_list()) {
    const ValueList& l = v.as_list();
    if (l.empty()) {
      *out += "[]";
      return true;
    }
    out->push_back('[');
    for (size_t i = 0; i < l.size(); ++i) {
      if (i) *out += indent >= 0 ? "," : ", ";
      if (indent >= 0) newline(level + 1);
      if (!Dump(l[i], indent, level + 1, out)) return false;
    }
    if (indent >= 0) newline(level);
    out->push_back(']');
  } else if (v.is_dict() && !v.as_dict().is_namespace) {
    const ValueDict& d = v.as_dict();
    if (d.items.empty()) {
      *out += "{}";
      return true;
    }
    out->push_back('{');
    bool first = true;
    for (const auto& [k, e] : d.items) {
      if (!first) *out += indent >= 0 ? "," : ", ";
      first = false;
      if (indent >= 0) newline(level + 1);
      JsonString(k, out);
      *out += ": ";
      if (!Dump(e, indent, level + 1, out)) return false;
    }
    if (indent >= 0) newline(level);
    out->push_back('}');
  } else {
    return false;
  }
  return true;
}

}  // namespace

StatusOr<Value> ParseJson(std::string_view json) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (d.HasParseError()) return Status::InvalidArgument("malformed JSON");
  return FromRapid(d, 0);
}

std::string ToJson(const Value& v, int indent, bool* ok) {
  std::string out;
  *ok = Dump(v, indent, 0, &out);
  return out;
}

}  // namespace hearth::model::jinja
