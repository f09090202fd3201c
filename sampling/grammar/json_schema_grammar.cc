#include "sampling/grammar/json_schema_grammar.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <map>
#include <set>
#include <vector>

#include "common/json_parse.h"

namespace hearth::grammar {
namespace {

// The JSON building blocks every generated grammar shares.
constexpr std::string_view kPrimitives = R"(ws ::= ( " " | "\n" [ \t]{0,16} )?
json-string ::= "\"" json-char* "\""
json-char ::= [^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )
json-int ::= "-"? ( "0" | [1-9] [0-9]{0,15} )
json-number ::= json-int ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,3} )?
json-boolean ::= "true" | "false"
json-null ::= "null"
json-value ::= json-object | json-array | json-string | json-number | json-boolean | json-null
json-object ::= "{" ws ( json-string ws ":" ws json-value ws ( "," ws json-string ws ":" ws json-value ws )* )? "}"
json-array ::= "[" ws ( json-value ws ( "," ws json-value ws )* )? "]"
)";

const std::set<std::string_view>& Annotations() {
  static const std::set<std::string_view> k = {"title",    "description", "default",    "examples", "$schema",
                                               "$id",      "$comment",    "deprecated", "readOnly", "writeOnly",
                                               "$defs",    "definitions", "strict",     "name"};
  return k;
}

const std::set<std::string_view>& Supported() {
  static const std::set<std::string_view> k = {
      "type",  "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "minLength",
      "maxLength", "enum", "const", "anyOf", "oneOf", "$ref"};
  return k;
}

// `s` as a grammar string literal.
std::string Literal(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      static const char* kHex = "0123456789ABCDEF";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string CompactJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

class SchemaCompiler {
 public:
  SchemaCompiler(const rapidjson::Value& root, const GrammarLimits& limits) : root_(root), limits_(limits) {}

  StatusOr<std::string> Run() {
    HEARTH_ASSIGN_OR_RETURN(std::string body, Compile(root_, "#", 0));
    std::string text = "root ::= " + body + "\n";
    text += kPrimitives;
    for (const std::string& r : rules_) text += r;
    return text;
  }

 private:
  Status Error(const std::string& where, const std::string& what) {
    return Status::InvalidArgument("json_schema at " + where + ": " + what);
  }

  std::string NewRule(const std::string& body) {
    const std::string name = "s" + std::to_string(rules_.size() + ref_names_.size() + 1);
    rules_.push_back(name + " ::= " + body + "\n");
    return name;
  }

  Status CheckBudget(const std::string& where) {
    if (static_cast<int32_t>(rules_.size()) > limits_.max_rules) {
      return Error(where, "the schema needs more than " + std::to_string(limits_.max_rules) + " grammar rules");
    }
    if (++num_nodes_ > limits_.max_rules) {
      return Error(where, "more than " + std::to_string(limits_.max_rules) + " subschemas");
    }
    return Status::Ok();
  }

  // The grammar expression for `schema` at JSON pointer `where`.
  StatusOr<std::string> Compile(const rapidjson::Value& schema, const std::string& where, int depth) {
    if (depth > limits_.max_nesting) {
      return Error(where, "subschemas nested deeper than " + std::to_string(limits_.max_nesting));
    }
    HEARTH_RETURN_IF_ERROR(CheckBudget(where));
    if (schema.IsBool()) {
      if (schema.GetBool()) return std::string("json-value");
      return Error(where, "the schema 'false' matches nothing");
    }
    if (!schema.IsObject()) return Error(where, "a schema must be an object or a boolean");
    for (auto it = schema.MemberBegin(); it != schema.MemberEnd(); ++it) {
      const std::string_view key(it->name.GetString(), it->name.GetStringLength());
      if (!Supported().contains(key) && !Annotations().contains(key)) {
        return Error(where, "keyword '" + std::string(key) + "' is not supported");
      }
    }
    if (schema.HasMember("$ref")) return CompileRef(schema["$ref"], where + "/$ref");
    if (schema.HasMember("const")) return Literal(CompactJson(schema["const"]));
    if (schema.HasMember("enum")) return CompileEnum(schema["enum"], where + "/enum");
    for (const char* k : {"anyOf", "oneOf"}) {
      if (schema.HasMember(k)) return CompileAnyOf(schema[k], where + "/" + k, depth);
    }
    std::vector<std::string> types;
    if (schema.HasMember("type")) {
      const rapidjson::Value& t = schema["type"];
      if (t.IsString()) {
        types.emplace_back(t.GetString(), t.GetStringLength());
      } else if (t.IsArray() && !t.Empty()) {
        for (const auto& x : t.GetArray()) {
          if (!x.IsString()) return Error(where + "/type", "'type' must be a string or a list of strings");
          types.emplace_back(x.GetString(), x.GetStringLength());
        }
      } else {
        return Error(where + "/type", "'type' must be a string or a list of strings");
      }
    } else if (schema.HasMember("properties") || schema.HasMember("additionalProperties")) {
      types.push_back("object");
    } else if (schema.HasMember("items") || schema.HasMember("minItems") || schema.HasMember("maxItems")) {
      types.push_back("array");
    } else {
      return std::string("json-value");
    }
    std::string alts;
    for (const std::string& type : types) {
      HEARTH_ASSIGN_OR_RETURN(std::string one, CompileType(schema, type, where, depth));
      alts += (alts.empty() ? "" : " | ") + one;
    }
    return types.size() == 1 ? alts : "( " + alts + " )";
  }

  StatusOr<std::string> CompileType(const rapidjson::Value& schema, const std::string& type, const std::string& where,
                                    int depth) {
    if (type == "string") return CompileString(schema, where);
    if (type == "number") return std::string("json-number");
    if (type == "integer") return std::string("json-int");
    if (type == "boolean") return std::string("json-boolean");
    if (type == "null") return std::string("json-null");
    if (type == "object") return CompileObject(schema, where, depth);
    if (type == "array") return CompileArray(schema, where, depth);
    return Error(where + "/type", "unknown type '" + type + "'");
  }

  StatusOr<int32_t> Count(const rapidjson::Value& schema, const char* key, const std::string& where, int32_t dflt) {
    if (!schema.HasMember(key)) return dflt;
    const rapidjson::Value& v = schema[key];
    if (!v.IsInt64() || v.GetInt64() < 0) return Error(where + "/" + key, "must be a non-negative integer");
    if (v.GetInt64() > limits_.max_repeat) {
      return Error(where + "/" + key, "over the limit of " + std::to_string(limits_.max_repeat));
    }
    return static_cast<int32_t>(v.GetInt64());
  }

  StatusOr<std::string> CompileString(const rapidjson::Value& schema, const std::string& where) {
    HEARTH_ASSIGN_OR_RETURN(int32_t min, Count(schema, "minLength", where, 0));
    HEARTH_ASSIGN_OR_RETURN(int32_t max, Count(schema, "maxLength", where, -1));
    if (min == 0 && max == -1) return std::string("json-string");
    if (max != -1 && max < min) return Error(where, "maxLength is below minLength");
    const std::string bounds =
        "{" + std::to_string(min) + "," + (max == -1 ? std::string() : std::to_string(max)) + "}";
    return NewRule("\"\\\"\" json-char" + bounds + " \"\\\"\"");
  }

  StatusOr<std::string> CompileEnum(const rapidjson::Value& values, const std::string& where) {
    if (!values.IsArray() || values.Empty()) return Error(where, "'enum' must be a non-empty list");
    if (values.Size() > static_cast<rapidjson::SizeType>(limits_.max_enum)) {
      return Error(where, "'enum' has " + std::to_string(values.Size()) + " values, over the limit of " +
                              std::to_string(limits_.max_enum));
    }
    std::string alts;
    for (const auto& v : values.GetArray()) alts += (alts.empty() ? "" : " | ") + Literal(CompactJson(v));
    if (alts.size() > limits_.max_text_bytes) return Error(where, "'enum' is too large");
    return NewRule(alts);
  }

  StatusOr<std::string> CompileAnyOf(const rapidjson::Value& list, const std::string& where, int depth) {
    if (!list.IsArray() || list.Empty()) return Error(where, "must be a non-empty list of schemas");
    std::string alts;
    for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
      HEARTH_ASSIGN_OR_RETURN(std::string one, Compile(list[i], where + "/" + std::to_string(i), depth + 1));
      alts += (alts.empty() ? "" : " | ") + one;
    }
    return NewRule(alts);
  }

  StatusOr<std::string> CompileRef(const rapidjson::Value& ref, const std::string& where) {
    if (!ref.IsString()) return Error(where, "'$ref' must be a string");
    const std::string target(ref.GetString(), ref.GetStringLength());
    auto known = ref_names_.find(target);
    if (known != ref_names_.end()) return known->second;
    const rapidjson::Value* defs = nullptr;
    std::string name;
    for (const char* prefix : {"#/$defs/", "#/definitions/"}) {
      const std::string p(prefix);
      if (target.rfind(p, 0) == 0) {
        const char* section = p == "#/$defs/" ? "$defs" : "definitions";
        if (root_.IsObject() && root_.HasMember(section) && root_[section].IsObject()) defs = &root_[section];
        name = target.substr(p.size());
      }
    }
    if (defs == nullptr) {
      return Error(where, "'$ref' \"" + target + "\" is not supported (only #/$defs/NAME and #/definitions/NAME)");
    }
    auto it = defs->FindMember(rapidjson::Value(name.c_str(), static_cast<rapidjson::SizeType>(name.size())));
    if (it == defs->MemberEnd()) return Error(where, "'$ref' \"" + target + "\" names no definition");
    // Named before compiling, so a recursive reference finds it.
    const std::string rule = "d" + std::to_string(ref_names_.size() + 1);
    ref_names_[target] = rule;
    HEARTH_ASSIGN_OR_RETURN(std::string body, Compile(it->value, target, 1));
    rules_.push_back(rule + " ::= " + body + "\n");
    return rule;
  }

  StatusOr<std::string> CompileObject(const rapidjson::Value& schema, const std::string& where, int depth) {
    std::set<std::string> required;
    if (schema.HasMember("required")) {
      const rapidjson::Value& r = schema["required"];
      if (!r.IsArray()) return Error(where + "/required", "must be a list of names");
      for (const auto& x : r.GetArray()) {
        if (!x.IsString()) return Error(where + "/required", "must be a list of names");
        required.insert(std::string(x.GetString(), x.GetStringLength()));
      }
    }
    std::string extra;  // the value of additional properties, empty when none are allowed
    if (schema.HasMember("additionalProperties")) {
      const rapidjson::Value& a = schema["additionalProperties"];
      if (a.IsBool()) {
        if (a.GetBool()) extra = "json-value";
      } else {
        HEARTH_ASSIGN_OR_RETURN(extra, Compile(a, where + "/additionalProperties", depth + 1));
      }
    }
    std::vector<std::string> kvs;
    std::vector<bool> is_required;
    if (schema.HasMember("properties")) {
      const rapidjson::Value& props = schema["properties"];
      if (!props.IsObject()) return Error(where + "/properties", "must be an object");
      for (auto it = props.MemberBegin(); it != props.MemberEnd(); ++it) {
        const std::string key(it->name.GetString(), it->name.GetStringLength());
        HEARTH_ASSIGN_OR_RETURN(std::string value, Compile(it->value, where + "/properties/" + key, depth + 1));
        kvs.push_back(Literal(CompactJson(it->name)) + " ws \":\" ws " + value);
        is_required.push_back(required.erase(key) > 0);
      }
    } else if (!schema.HasMember("additionalProperties") && required.empty()) {
      return std::string("json-object");
    }
    if (!required.empty()) {
      return Error(where + "/required", "'" + *required.begin() + "' is required but not in 'properties'");
    }
    // first(i): the properties from i on, none written yet; rest(i): some written before, so
    // each is preceded by a comma. Extra properties come after the listed ones.
    const std::string extra_kv = extra.empty() ? "" : "json-string ws \":\" ws " + extra;
    std::string rest = extra.empty() ? "" : NewRule("( \",\" ws " + extra_kv + " ws )*");
    std::string first = extra.empty() ? "" : NewRule("( " + extra_kv + " ws " + (rest.empty() ? "" : rest) + " )?");
    for (size_t i = kvs.size(); i-- > 0;) {
      const std::string tail = rest.empty() ? "" : " " + rest;
      const std::string kv = kvs[i] + " ws" + tail;
      const std::string with_comma = "\",\" ws " + kv;
      const std::string empty = "\"\"";
      first = NewRule(is_required[i] ? kv : kv + " | " + (first.empty() ? empty : first));
      rest = NewRule(is_required[i] ? with_comma : "( " + with_comma + " ) | " + (rest.empty() ? empty : rest));
      HEARTH_RETURN_IF_ERROR(CheckBudget(where));
    }
    return NewRule("\"{\" ws " + (first.empty() ? "" : first + " ") + "\"}\"");
  }

  StatusOr<std::string> CompileArray(const rapidjson::Value& schema, const std::string& where, int depth) {
    std::string item = "json-value";
    if (schema.HasMember("items")) {
      HEARTH_ASSIGN_OR_RETURN(item, Compile(schema["items"], where + "/items", depth + 1));
    }
    HEARTH_ASSIGN_OR_RETURN(int32_t min, Count(schema, "minItems", where, 0));
    HEARTH_ASSIGN_OR_RETURN(int32_t max, Count(schema, "maxItems", where, -1));
    if (max != -1 && max < min) return Error(where, "maxItems is below minItems");
    if (max == 0) return NewRule("\"[\" ws \"]\"");
    const std::string more_min = std::to_string(min == 0 ? 0 : min - 1);
    const std::string more_max = max == -1 ? "" : std::to_string(max - 1);
    const std::string list = item + " ws ( \",\" ws " + item + " ws ){" + more_min + "," + more_max + "}";
    return NewRule("\"[\" ws " + (min == 0 ? "( " + list + " )?" : list) + " \"]\"");
  }

  const rapidjson::Value& root_;
  const GrammarLimits& limits_;
  std::vector<std::string> rules_;
  std::map<std::string, std::string> ref_names_;
  int32_t num_nodes_ = 0;
};

}  // namespace

StatusOr<std::string> JsonSchemaToGbnf(std::string_view schema_json, const GrammarLimits& limits) {
  if (schema_json.size() > limits.max_text_bytes) {
    return Status::InvalidArgument("json_schema is " + std::to_string(schema_json.size()) +
                                   " bytes, over the limit of " + std::to_string(limits.max_text_bytes));
  }
  rapidjson::Document doc;
  JsonLimits json_limits;
  json_limits.max_depth = static_cast<size_t>(2 * limits.max_nesting + 8);
  const JsonParse parsed = ParseJson(schema_json, &doc, json_limits);
  if (!parsed.ok()) return Status::InvalidArgument("json_schema is not valid JSON: " + parsed.message);
  return SchemaCompiler(doc, limits).Run();
}

std::string JsonObjectGbnf() { return "root ::= json-object\n" + std::string(kPrimitives); }

}  // namespace hearth::grammar
