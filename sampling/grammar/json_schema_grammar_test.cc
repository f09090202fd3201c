#include "sampling/grammar/json_schema_grammar.h"

#include <gtest/gtest.h>

#include "sampling/grammar/grammar_test_util.h"

namespace hearth::grammar {
namespace {

bool SchemaAccepts(std::string_view schema, std::string_view json) {
  auto text = JsonSchemaToGbnf(schema);
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  return text.ok() && GrammarAccepts(*text, json);
}

std::string ErrorOf(std::string_view schema, const GrammarLimits& limits = {}) {
  auto text = JsonSchemaToGbnf(schema, limits);
  if (!text.ok()) return text.status().message();
  auto g = ParseGbnf(*text, limits);
  return g.ok() ? "" : g.status().message();
}

constexpr const char* kPerson = R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "maxLength": 10},
    "age": {"type": "integer"},
    "score": {"type": "number"},
    "role": {"enum": ["admin", "user", 3, null]},
    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
    "address": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "ok": {"type": ["boolean", "null"]}
  },
  "required": ["name", "age", "tags"]
})";

TEST(JsonSchemaGrammarTest, ObjectsWithRequiredAndOptionalProperties) {
  EXPECT_TRUE(SchemaAccepts(kPerson, R"({"name":"Al","age":-3,"tags":["x"]})"));
  EXPECT_TRUE(SchemaAccepts(kPerson, "{ \"name\": \"Al\",\n \"age\": 30, \"score\": 1.5e-3, \"role\": 3,"
                                     " \"tags\": [\"a\", \"b\"], \"address\": {\"city\": \"Oslo\"}, \"ok\": null }"));
  EXPECT_TRUE(SchemaAccepts(kPerson, R"({"name":"Al","age":0,"role":"user","tags":["x"],"ok":true})"));
  EXPECT_FALSE(SchemaAccepts(kPerson, R"({"name":"Al","tags":["x"]})"));                  // age missing
  EXPECT_FALSE(SchemaAccepts(kPerson, R"({"name":"Al","age":1.5,"tags":["x"]})"));        // not an integer
  EXPECT_FALSE(SchemaAccepts(kPerson, R"({"name":"Al","age":1,"tags":[]})"));             // minItems
  EXPECT_FALSE(SchemaAccepts(kPerson, R"({"name":"Al","age":1,"tags":["a","b","c","d"]})"));  // maxItems
  EXPECT_FALSE(SchemaAccepts(kPerson, R"({"name":"Al","age":1,"role":"root","tags":["x"]})"));  // enum
  EXPECT_FALSE(SchemaAccepts(kPerson, R"({"name":"Al","age":1,"tags":["x"],"extra":1})"));  // additional
  EXPECT_FALSE(SchemaAccepts(kPerson, R"({"name":"abcdefghijk","age":1,"tags":["x"]})"));  // maxLength
  EXPECT_FALSE(SchemaAccepts(kPerson, R"({"name":"Al","age":01,"tags":["x"]})"));         // leading zero
  EXPECT_FALSE(SchemaAccepts(kPerson, R"({"name":"Al","age":1,"tags":["x"],})"));          // trailing comma
}

TEST(JsonSchemaGrammarTest, AllOptionalPropertiesAndAdditionalProperties) {
  const char* s = R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}}})";
  EXPECT_TRUE(SchemaAccepts(s, "{}"));
  EXPECT_TRUE(SchemaAccepts(s, R"({"b":2})"));
  EXPECT_TRUE(SchemaAccepts(s, R"({"a":1,"b":2})"));
  EXPECT_FALSE(SchemaAccepts(s, R"({"a":1,})"));
  EXPECT_FALSE(SchemaAccepts(s, R"({,"b":2})"));
  const char* open = R"({"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":{"type":"null"}})";
  EXPECT_TRUE(SchemaAccepts(open, R"({"a":1,"x":null,"y":null})"));
  EXPECT_TRUE(SchemaAccepts(open, R"({"x":null})"));
  EXPECT_FALSE(SchemaAccepts(open, R"({"a":1,"x":2})"));
}

TEST(JsonSchemaGrammarTest, RefsIntoDefsWithRecursionConstAnyOf) {
  const char* tree = R"({"$ref":"#/$defs/node","$defs":{"node":{"type":"object","properties":{
      "v":{"const":"leaf"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"]}}})";
  EXPECT_TRUE(SchemaAccepts(tree, R"({"v":"leaf","kids":[{"v":"leaf"},{"v":"leaf","kids":[]}]})"));
  EXPECT_FALSE(SchemaAccepts(tree, R"({"v":"leaf","kids":[{"v":"tree"}]})"));
  const char* any = R"({"anyOf":[{"type":"integer"},{"type":"string","minLength":2}]})";
  EXPECT_TRUE(SchemaAccepts(any, "12"));
  EXPECT_TRUE(SchemaAccepts(any, "\"ab\""));
  EXPECT_FALSE(SchemaAccepts(any, "\"a\""));
  const char* old = R"({"definitions":{"x":{"type":"boolean"}},"type":"array","items":{"$ref":"#/definitions/x"}})";
  EXPECT_TRUE(SchemaAccepts(old, "[true,false]"));
}

TEST(JsonSchemaGrammarTest, JsonObjectIsAnyObject) {
  EXPECT_TRUE(GrammarAccepts(JsonObjectGbnf(), R"({"a":[1,{"b":null},"\u00e9\n"],"c":-0.5E+2})"));
  EXPECT_FALSE(GrammarAccepts(JsonObjectGbnf(), "[1]"));
  EXPECT_FALSE(GrammarAccepts(JsonObjectGbnf(), R"({"a":"unterminated})"));
}

TEST(JsonSchemaGrammarTest, UnsupportedKeywordsAreNamedWithTheirLocation) {
  EXPECT_EQ(ErrorOf(R"({"type":"object","properties":{"d":{"type":"string","pattern":"^a"}}})"),
            "json_schema at #/properties/d: keyword 'pattern' is not supported");
  EXPECT_NE(ErrorOf(R"({"type":"integer","minimum":3})").find("'minimum' is not supported"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"allOf":[{}]})").find("'allOf'"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"$ref":"http://x/y"})").find("only #/$defs/NAME"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"$ref":"#/$defs/missing","$defs":{}})").find("names no definition"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"type":"strung"})").find("unknown type 'strung'"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"type":"object","required":["a"]})").find("'a' is required but not in"),
            std::string::npos);
  EXPECT_NE(ErrorOf("{not json").find("not valid JSON"), std::string::npos);
  EXPECT_NE(ErrorOf(R"({"type":"array","minItems":5,"maxItems":2})").find("maxItems is below"), std::string::npos);
}

TEST(JsonSchemaGrammarTest, HostileSchemasAreRefusedQuickly) {
  // Deep nesting.
  std::string deep;
  for (int i = 0; i < 70; ++i) deep += R"({"type":"array","items":)";
  deep += "{}";
  deep.append(70, '}');
  EXPECT_NE(ErrorOf(deep).find("nested deeper than"), std::string::npos);
  std::string very_deep(100000, '[');
  EXPECT_NE(ErrorOf(very_deep).find("not valid JSON"), std::string::npos);
  // A huge enum.
  std::string huge = R"({"enum":[)";
  for (int i = 0; i < 5000; ++i) {
    if (i) huge += ",";
    huge += std::to_string(i);
  }
  huge += "]}";
  EXPECT_NE(ErrorOf(huge).find("over the limit of 1024"), std::string::npos);
  // Definitions that only refer to each other: no sentence, but no hang either.
  EXPECT_NE(ErrorOf(R"({"$ref":"#/$defs/a","$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}}})")
                .find("left-recursive"),
            std::string::npos);
  // Left recursion through anyOf.
  EXPECT_NE(ErrorOf(R"({"$ref":"#/$defs/a","$defs":{"a":{"anyOf":[{"$ref":"#/$defs/a"},{"type":"null"}]}}})")
                .find("left-recursive"),
            std::string::npos);
  // Many properties each with a large repetition: refused by the rule budget.
  std::string wide = R"({"type":"object","properties":{)";
  for (int i = 0; i < 50; ++i) {
    if (i) wide += ",";
    wide += "\"p";
    wide += std::to_string(i);
    wide += R"(":{"type":"array","maxItems":1000})";
  }
  wide += "}}";
  EXPECT_NE(ErrorOf(wide).find("more than 20000 rules"), std::string::npos);
}

}  // namespace
}  // namespace hearth::grammar
