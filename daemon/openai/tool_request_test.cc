#include "daemon/openai/tool_request.h"

#include <gtest/gtest.h>

#include "common/json_parse.h"
#include "daemon/openai/tool_call_parser.h"
#include "sampling/grammar/grammar_test_util.h"

namespace hearth::daemon {
namespace {

using grammar::GrammarAccepts;

const char* kWeather = R"({"type":"function","function":{"name":"get_weather","description":"Weather of a city",
  "parameters":{"type":"object","properties":{"city":{"type":"string","maxLength":20},
  "unit":{"enum":["c","f"]}},"required":["city","unit"]}}})";
const char* kTime = R"({"type":"function","function":{"name":"get_time"}})";

std::optional<ApiError> Parse(const std::string& body, ToolRequest* out) {
  rapidjson::Document doc;
  EXPECT_TRUE(ParseJsonObject(body, &doc).ok()) << body;
  return ParseToolRequest(doc, out);
}

std::string Body(const std::string& tools, const std::string& rest = "") {
  std::string b = "{\"tools\":[" + tools + "]";
  if (!rest.empty()) b += "," + rest;
  return b + "}";
}

TEST(ToolRequestTest, NoToolsMeansNone) {
  ToolRequest t;
  EXPECT_FALSE(Parse(R"({"model":"m"})", &t));
  EXPECT_FALSE(t.has_tools());
  EXPECT_EQ(t.choice, ToolChoice::kNone);
  EXPECT_FALSE(Parse(R"({"tools":[],"tool_choice":"auto","parallel_tool_calls":false})", &t));
  EXPECT_EQ(t.choice, ToolChoice::kNone);
  EXPECT_FALSE(t.parallel);
  EXPECT_TRUE(t.grammar.empty());
}

TEST(ToolRequestTest, ChoicesAndTheirGrammar) {
  ToolRequest t;
  EXPECT_FALSE(Parse(Body(std::string(kWeather) + "," + kTime), &t));
  EXPECT_EQ(t.choice, ToolChoice::kAuto);
  EXPECT_EQ(t.names, (std::vector<std::string>{"get_weather", "get_time"}));
  EXPECT_TRUE(t.grammar.empty());  // auto is not constrained

  EXPECT_FALSE(Parse(Body(std::string(kWeather) + "," + kTime, R"("tool_choice":"none")"), &t));
  EXPECT_EQ(t.choice, ToolChoice::kNone);
  EXPECT_TRUE(t.has_tools());  // still rendered for the template

  EXPECT_FALSE(Parse(Body(std::string(kWeather) + "," + kTime, R"("tool_choice":"required")"), &t));
  EXPECT_EQ(t.choice, ToolChoice::kRequired);
  const std::string weather = R"([{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}])";
  const std::string both =
      R"([{"name":"get_weather","arguments":{"city":"Oslo","unit":"f"}},{"name":"get_time","arguments":{}}])";
  EXPECT_TRUE(GrammarAccepts(t.grammar, weather));
  EXPECT_TRUE(GrammarAccepts(t.grammar, both));  // parallel by default
  EXPECT_FALSE(GrammarAccepts(t.grammar, R"([{"name": "get_weather", "arguments": {"city": "Paris"}}])"));
  EXPECT_FALSE(GrammarAccepts(t.grammar, R"([{"name": "get_weather", "arguments": {"city": "Paris", "unit": "k"}}])"));
  EXPECT_FALSE(GrammarAccepts(t.grammar, R"([{"name": "other", "arguments": {}}])"));
  EXPECT_FALSE(GrammarAccepts(t.grammar, R"([])"));
  EXPECT_FALSE(GrammarAccepts(t.grammar, "Sure!"));
  // What the grammar accepts, the parser reads back.
  const ParsedToolOutput parsed = ParseToolOutput(ToolCallFormat::kJsonArray, both);
  ASSERT_EQ(parsed.calls.size(), 2u);
  EXPECT_EQ(parsed.calls[0].arguments, R"({"city":"Oslo","unit":"f"})");

  EXPECT_FALSE(
      Parse(Body(std::string(kWeather) + "," + kTime,
                 R"("tool_choice":{"type":"function","function":{"name":"get_time"}},"parallel_tool_calls":false)"),
            &t));
  EXPECT_EQ(t.choice, ToolChoice::kNamed);
  EXPECT_EQ(t.forced_name, "get_time");
  EXPECT_TRUE(GrammarAccepts(t.grammar, R"([{"name": "get_time", "arguments": {}}])"));
  EXPECT_FALSE(GrammarAccepts(t.grammar, weather));
  EXPECT_FALSE(
      GrammarAccepts(t.grammar, R"([{"name": "get_time", "arguments": {}},{"name": "get_time", "arguments": {}}])"));
}

TEST(ToolRequestTest, DefsOfEveryToolAreHoisted) {
  const std::string a = R"({"type":"function","function":{"name":"a","parameters":{"type":"object",
    "properties":{"p":{"$ref":"#/$defs/pt"}},"required":["p"],"$defs":{"pt":{"type":"integer"}}}}})";
  const std::string b = R"({"type":"function","function":{"name":"b","parameters":{"type":"object",
    "properties":{"q":{"$ref":"#/$defs/pt"}},"required":["q"],"$defs":{"pt":{"type":"integer"}}}}})";
  ToolRequest t;
  EXPECT_FALSE(Parse(Body(a + "," + b, R"("tool_choice":"required")"), &t));
  EXPECT_TRUE(GrammarAccepts(t.grammar, R"([{"name":"b","arguments":{"q":5}}])"));
  const std::string c = R"({"type":"function","function":{"name":"c","parameters":{"type":"object",
    "properties":{},"$defs":{"pt":{"type":"string"}}}}})";
  auto e = Parse(Body(a + "," + c, R"("tool_choice":"required")"), &t);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "tools[1].function.parameters");
}

TEST(ToolRequestTest, BadToolsAreA400NamingTheField) {
  struct Case {
    std::string body;
    const char* param;
  } cases[] = {
      {R"({"tools":{}})", "tools"},
      {R"({"tools":[1]})", "tools[0]"},
      {R"({"tools":[{"type":"retrieval"}]})", "tools[0].type"},
      {R"({"tools":[{"type":"function"}]})", "tools[0].function"},
      {R"({"tools":[{"type":"function","function":{"description":"x"}}]})", "tools[0].function.name"},
      {R"({"tools":[{"type":"function","function":{"name":"a b"}}]})", "tools[0].function.name"},
      {Body(std::string(kTime) + "," + kTime), "tools[1].function.name"},
      {R"({"tools":[{"type":"function","function":{"name":"f","parameters":[]}}]})", "tools[0].function.parameters"},
      {R"({"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"string"}}}]})",
       "tools[0].function.parameters"},
      {R"({"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object",
         "properties":{"d":{"type":"string","pattern":"x+"}}}}}],"tool_choice":"required"})",
       "tools[0].function.parameters"},
      {Body(kTime, R"("tool_choice":"sometimes")"), "tool_choice"},
      {Body(kTime, R"("tool_choice":{"type":"function","function":{"name":"nope"}})"), "tool_choice"},
      {Body(kTime, R"("tool_choice":{"type":"function"})"), "tool_choice"},
      {R"({"tool_choice":"required"})", "tool_choice"},
      {Body(kTime, R"("parallel_tool_calls":"yes")"), "parallel_tool_calls"},
  };
  for (const Case& c : cases) {
    ToolRequest t;
    auto e = Parse(c.body, &t);
    ASSERT_TRUE(e) << c.body;
    EXPECT_EQ(e->http_status, 400);
    EXPECT_EQ(e->param, c.param) << c.body << " -> " << e->message;
  }
  // A keyword the compiler refuses matters only where the schema is enforced.
  ToolRequest t;
  EXPECT_FALSE(Parse(R"({"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object",
      "properties":{"d":{"type":"string","format":"date"}}}}}]})",
                     &t));
}

}  // namespace
}  // namespace hearth::daemon
