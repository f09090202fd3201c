#include "model/jinja/value.h"

#include <gtest/gtest.h>

namespace hearth::model::jinja {
namespace {

TEST(ValueTest, PythonStrAndRepr) {
  EXPECT_EQ(Value(1.0).Str(), "1.0");
  EXPECT_EQ(Value(0.1).Str(), "0.1");
  EXPECT_EQ(Value(1e16).Str(), "1e+16");
  EXPECT_EQ(Value(1.5e-5).Str(), "1.5e-05");
  EXPECT_EQ(Value(123456.75).Str(), "123456.75");
  EXPECT_EQ(Value(true).Str(), "True");
  EXPECT_EQ(Value::Null().Str(), "None");
  EXPECT_EQ(Value::Undef("x").Str(), "");
  ValueDict d;
  d.Set("a", Value(ValueList{Value(1), Value("it's")}));
  d.Set("b", Value::Null());
  EXPECT_EQ(Value(d).Str(), "{'a': [1, \"it's\"], 'b': None}");
}

TEST(ValueTest, TruthAndEquality) {
  EXPECT_FALSE(Value::Undef("x").Truthy());
  EXPECT_FALSE(Value(ValueList{}).Truthy());
  EXPECT_TRUE(Value("0").Truthy());
  EXPECT_TRUE(Value(1).Equals(Value(1.0)));
  EXPECT_TRUE(Value(true).Equals(Value(1)));
  EXPECT_FALSE(Value("1").Equals(Value(1)));
  EXPECT_TRUE(Value(ValueList{Value("a")}).Equals(Value(ValueList{Value("a")})));
}

TEST(ValueTest, JsonRoundTrip) {
  auto v = ParseJson(R"({"b": [1, 2.5, "é\n", null, true], "a": {}})");
  ASSERT_TRUE(v.ok());
  bool ok = false;
  EXPECT_EQ(ToJson(*v, -1, &ok), R"({"b": [1, 2.5, "é\n", null, true], "a": {}})");
  EXPECT_TRUE(ok);
  EXPECT_EQ(ToJson(*v, 2, &ok), "{\n  \"b\": [\n    1,\n    2.5,\n    \"é\\n\",\n    null,\n    true\n  ],\n  \"a\": {}\n}");
  ToJson(Value::Undef("x"), -1, &ok);
  EXPECT_FALSE(ok);
  EXPECT_FALSE(ParseJson("{").ok());
  EXPECT_FALSE(ParseJson(std::string(100, '[') + std::string(100, ']')).ok());
}

}  // namespace
}  // namespace hearth::model::jinja
