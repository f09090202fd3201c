#include "common/json_parse.h"

#include <gtest/gtest.h>

#include <string>

namespace hearth {
namespace {

TEST(JsonParseTest, ParsesAnObject) {
  rapidjson::Document doc;
  ASSERT_TRUE(ParseJsonObject(R"({"a":[1,{"b":"c\u00e9\ud83d\ude00"}]})", &doc).ok());
  EXPECT_EQ(doc["a"][1]["b"].GetString(), std::string("c\xc3\xa9\xf0\x9f\x98\x80"));
}

TEST(JsonParseTest, AMillionOpenBracketsIsAnErrorNotACrash) {
  rapidjson::Document doc;
  const std::string deep(1'000'000, '[');
  JsonParse parsed = ParseJson(deep, &doc);
  EXPECT_EQ(parsed.error, JsonError::kTooDeep);
  EXPECT_NE(parsed.message.find("nested deeper than 64"), std::string::npos) << parsed.message;
  EXPECT_FALSE(ParseJsonObject(std::string(1'000'000, '{'), &doc).ok());
}

TEST(JsonParseTest, DepthLimitIsExact) {
  rapidjson::Document doc;
  const std::string at_limit = std::string(64, '[') + std::string(64, ']');
  EXPECT_TRUE(ParseJson(at_limit, &doc).ok());
  const std::string over = std::string(65, '[') + std::string(65, ']');
  EXPECT_EQ(ParseJson(over, &doc).error, JsonError::kTooDeep);
  EXPECT_TRUE(ParseJson(over, &doc, JsonLimits{65}).ok());
}

TEST(JsonParseTest, BracketsInsideStringsDoNotCount) {
  rapidjson::Document doc;
  const std::string text = "{\"s\":\"" + std::string(500, '[') + "\\\"" + std::string(500, '{') + "\"}";
  EXPECT_TRUE(ParseJsonObject(text, &doc).ok());
}

TEST(JsonParseTest, LoneSurrogatesAreRefused) {
  rapidjson::Document doc;
  EXPECT_EQ(ParseJson(R"({"model":"\udc00"})", &doc).error, JsonError::kEncoding);
  EXPECT_EQ(ParseJson(R"(["a\uDFFFb"])", &doc).error, JsonError::kEncoding);
  EXPECT_EQ(ParseJson(R"(["\ud800x"])", &doc).error, JsonError::kEncoding);
  EXPECT_EQ(ParseJson(R"(["\ud800\u0041"])", &doc).error, JsonError::kEncoding);
  // An escaped backslash before "udc00" is text, not an escape.
  EXPECT_TRUE(ParseJson(R"(["\\udc00"])", &doc).ok());
}

TEST(JsonParseTest, InvalidUtf8AndSyntaxAreNamed) {
  rapidjson::Document doc;
  JsonParse bad_bytes = ParseJson("[\"\xff\"]", &doc);
  EXPECT_EQ(bad_bytes.error, JsonError::kEncoding);
  JsonParse syntax = ParseJson("{\"a\":}", &doc);
  EXPECT_EQ(syntax.error, JsonError::kSyntax);
  EXPECT_NE(syntax.message.find("at byte 5"), std::string::npos) << syntax.message;
  Status not_object = ParseJsonObject("[1]", &doc);
  EXPECT_EQ(not_object.code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(not_object.message(), "not a JSON object");
}

}  // namespace
}  // namespace hearth
