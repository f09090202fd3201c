// The values a chat template computes with: Jinja's (Python's) types with Python's semantics
// for truth, equality, str() and repr(). Lists, dicts and namespaces are shared by reference,
// as in Python, so `ns.x = ...` inside a loop is seen after it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/status.h"

namespace hearth::model::jinja {

class Value;
struct CallArgs;

using ValueList = std::vector<Value>;
// Insertion-ordered, as Python dicts; keys are strings (all a chat template's JSON has).
struct ValueDict {
  std::vector<std::pair<std::string, Value>> items;
  bool is_namespace = false;  // made by namespace(): attribute assignment allowed

  const Value* Find(std::string_view key) const;
  void Set(std::string key, Value v);
};
// A callable: a global function (range, namespace, raise_exception) or a macro.
using NativeFunction = std::function<Value(CallArgs&)>;

struct Undefined {
  std::string name;  // what was looked up, for the error when it is used
};
struct None {};

class Value {
 public:
  Value() : v_(Undefined{}) {}
  static Value Undef(std::string name) { return Value(Undefined{std::move(name)}); }
  static Value Null() { return Value(None{}); }
  Value(bool b) : v_(b) {}                   // NOLINT
  Value(int64_t i) : v_(i) {}                // NOLINT
  Value(int i) : v_(int64_t{i}) {}           // NOLINT
  Value(double d) : v_(d) {}                 // NOLINT
  Value(std::string s) : v_(std::move(s)) {} // NOLINT
  Value(const char* s) : v_(std::string(s)) {}  // NOLINT
  Value(ValueList l);  // NOLINT
  Value(ValueDict d);  // NOLINT
  static Value Function(std::string name, NativeFunction f);

  bool is_undefined() const { return std::holds_alternative<Undefined>(v_); }
  bool is_none() const { return std::holds_alternative<None>(v_); }
  bool is_bool() const { return std::holds_alternative<bool>(v_); }
  bool is_int() const { return std::holds_alternative<int64_t>(v_); }
  bool is_float() const { return std::holds_alternative<double>(v_); }
  bool is_number() const { return is_int() || is_float(); }  // bools are not numbers here
  bool is_string() const { return std::holds_alternative<std::string>(v_); }
  bool is_list() const { return std::holds_alternative<std::shared_ptr<ValueList>>(v_); }
  bool is_dict() const { return std::holds_alternative<std::shared_ptr<ValueDict>>(v_); }
  bool is_function() const { return std::holds_alternative<std::shared_ptr<FunctionBox>>(v_); }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_float() const { return std::get<double>(v_); }
  double as_double() const;  // int, float or bool as a double
  const std::string& as_string() const { return std::get<std::string>(v_); }
  ValueList& as_list() const { return *std::get<std::shared_ptr<ValueList>>(v_); }
  ValueDict& as_dict() const { return *std::get<std::shared_ptr<ValueDict>>(v_); }
  const NativeFunction& as_function() const { return std::get<std::shared_ptr<FunctionBox>>(v_)->f; }
  const std::string& undefined_name() const { return std::get<Undefined>(v_).name; }

  // How deeply lists and dicts nest inside this value (0 for a scalar). The evaluator refuses
  // values nested past a limit, which bounds the recursion of Repr, ToJson, Equals and ~Value.
  int depth() const { return depth_; }

  bool Truthy() const;
  std::string TypeName() const;
  // Python's str() and repr(); Undefined prints as "".
  std::string Str() const;
  std::string Repr() const;
  // Python ==, deep for lists and dicts.
  bool Equals(const Value& other) const;

 private:
  struct FunctionBox {
    std::string name;
    NativeFunction f;
  };
  explicit Value(Undefined u) : v_(std::move(u)) {}
  explicit Value(None n) : v_(n) {}
  std::variant<Undefined, None, bool, int64_t, double, std::string, std::shared_ptr<ValueList>,
               std::shared_ptr<ValueDict>, std::shared_ptr<FunctionBox>>
      v_;
  int depth_ = 0;
};

// Arguments of a call: positional, then keyword.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  int line = 0;

  // The argument at `index` or named `name`; Undefined when absent.
  Value Get(size_t index, std::string_view name) const;
};

// Python's repr of a float (shortest round trip: 1.0, 0.1, 1e+16).
std::string FloatRepr(double d);

// JSON in, JSON out. ParseJson: InvalidArgument on malformed text or nesting deeper than 64.
StatusOr<Value> ParseJson(std::string_view json);
// json.dumps(v, ensure_ascii=False, indent=indent, sort_keys=False); indent < 0: one line with
// ", " and ": " separators. Undefined and functions are an error (empty optional in `ok`).
std::string ToJson(const Value& v, int indent, bool* ok);

}  // namespace hearth::model::jinja
