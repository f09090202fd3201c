#include "daemon/openai/response_format.h"

#include <gtest/gtest.h>

#include "common/json_parse.h"

namespace hearth::daemon {
namespace {

std::optional<ApiError> Parse(const std::string& body, std::string* grammar) {
  rapidjson::Document doc;
  EXPECT_TRUE(ParseJsonObject(body, &doc).ok()) << body;
  return ParseResponseFormat(doc, grammar);
}

TEST(ResponseFormatTest, TextOrNothingMeansNoGrammar) {
  std::string g = "stale";
  EXPECT_FALSE(Parse(R"({"model":"m"})", &g));
  EXPECT_EQ(g, "");
  EXPECT_FALSE(Parse(R"({"response_format":{"type":"text"}})", &g));
  EXPECT_EQ(g, "");
  EXPECT_FALSE(Parse(R"({"response_format":null,"grammar":null})", &g));
  EXPECT_EQ(g, "");
}

TEST(ResponseFormatTest, JsonObjectSchemaAndGrammarCompile) {
  std::string g;
  EXPECT_FALSE(Parse(R"({"response_format":{"type":"json_object"}})", &g));
  EXPECT_NE(g.find("root ::= json-object"), std::string::npos);
  EXPECT_FALSE(Parse(R"({"response_format":{"type":"json_schema","json_schema":{"name":"x","strict":true,
      "schema":{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}}}})", &g));
  EXPECT_NE(g.find("\"\\\"a\\\"\""), std::string::npos) << g;
  EXPECT_FALSE(Parse(R"({"grammar":"root ::= [0-9]+"})", &g));
  EXPECT_EQ(g, "root ::= [0-9]+");
}

TEST(ResponseFormatTest, BadInputIsA400NamingTheField) {
  std::string g;
  struct Case {
    const char* body;
    const char* param;
    const char* message_part;
  } cases[] = {
      {R"({"response_format":{"type":"yaml"}})", "response_format", "'yaml' is not supported"},
      {R"({"response_format":"json"})", "response_format", "must be an object"},
      {R"({"response_format":{"type":"json_schema"}})", "response_format", "needs a 'json_schema' object"},
      {R"({"response_format":{"type":"json_schema","json_schema":{"schema":{}}}})", "response_format", "name"},
      {R"({"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","format":"email"}}}})",
       "response_format", "keyword 'format' is not supported"},
      {R"({"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"nope"}}}})",
       "response_format", "unknown type 'nope'"},
      {R"({"grammar":"root ::= root \"a\""})", "grammar", "left-recursive"},
      {R"({"grammar":"x ::= \"a\""})", "grammar", "no 'root' rule"},
      {R"({"grammar":7})", "grammar", "must be a string"},
      {R"({"grammar":"root ::= \"a\"","response_format":{"type":"json_object"}})", "grammar", "not both"},
  };
  for (const Case& c : cases) {
    std::optional<ApiError> e = Parse(c.body, &g);
    ASSERT_TRUE(e) << c.body;
    EXPECT_EQ(e->http_status, 400);
    EXPECT_EQ(e->param, c.param) << c.body;
    EXPECT_NE(e->message.find(c.message_part), std::string::npos) << e->message;
  }
}

}  // namespace
}  // namespace hearth::daemon
