// Jinja's built-in filters and tests, Python's str/dict methods that templates call, and
// attribute/item access. All throw TemplateError (error.h) at `line` on misuse.
#pragma once

#include <optional>
#include <string>

#include "model/jinja/value.h"

namespace hearth::model::jinja {

// obj.name: a dict's item, a loop or namespace field; Undefined when absent. Using an
// Undefined object is an error, as jinja2's default Undefined.
Value GetAttr(const Value& obj, const std::string& name, int line);
// obj[key]: dict item, list or string index (negative counts from the end).
Value GetItem(const Value& obj, const Value& key, int line);

// The items a `for` walks: a list's items, a dict's keys, a string's code points.
ValueList Iterate(const Value& v, int line);

// value | name(args). Unknown filter names are errors.
Value ApplyFilter(const std::string& name, const Value& value, const CallArgs& args);
// value is name(args). Unknown test names are errors.
bool ApplyTest(const std::string& name, const Value& value, const CallArgs& args);
// obj.name(args) for str, dict and list methods; nullopt when obj has no such method.
std::optional<Value> CallMethod(const Value& obj, const std::string& name, const CallArgs& args);

// Python's ordering of numbers, strings and lists: <0, 0, >0; other pairs are an error.
int Compare(const Value& a, const Value& b, int line);

// Errors unless a string built by a template fits the limits (limits.h).
void CheckString(const std::string& s, int line);
void CheckList(size_t n, int line);

}  // namespace hearth::model::jinja
