// Tool prompts with the published templates of model/jinja/testdata: which take tools, the call
// format each asks for, and the history spelt for a template without tools.
#include "daemon/openai/tool_prompt.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/json_parse.h"

namespace hearth::daemon {
namespace {

std::string TemplateSource(const std::string& name) {
  const char* src = std::getenv("HEARTH_SOURCE_DIR");
  std::ifstream in(std::string(src ? src : ".") + "/model/jinja/testdata/templates/" + name + ".jinja");
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

model::ChatTemplate Load(const std::string& source) {
  auto t = model::ChatTemplate::FromJinja(source, "<|eos|>", "<|bos|>");
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return std::move(t).value();
}

ToolRequest Tools(const std::string& choice) {
  rapidjson::Document doc;
  const std::string body = R"({"tools":[{"type":"function","function":{"name":"get_weather",
    "description":"Weather of a city","parameters":{"type":"object","properties":{"city":{"type":"string"}},
    "required":["city"]}}}],"tool_choice":)" +
                           choice + "}";
  EXPECT_TRUE(ParseJsonObject(body, &doc).ok());
  ToolRequest t;
  EXPECT_FALSE(ParseToolRequest(doc, &t));
  return t;
}

// user → assistant call → tool result, as the API parses them.
std::vector<model::ChatMessage> RoundTrip() {
  std::vector<model::ChatMessage> m(3);
  m[0] = {"user", "Weather in Paris?"};
  m[1] = {"assistant", ""};
  m[1].tool_calls_json =
      R"([{"id":"call9abcd","type":"function","function":{"name":"get_weather","arguments":{"city":"Paris"}}}])";
  m[2] = {"tool", "18 C and sunny"};
  m[2].tool_call_id = "call9abcd";
  return m;
}

TEST(ToolPromptTest, WhichTemplatesTakeToolsAndTheirFormats) {
  struct Case {
    const char* name;
    bool takes;
    ToolCallFormat format;
  } cases[] = {
      {"qwen2.5", true, ToolCallFormat::kHermes},
      {"NousResearch-Hermes-3-Llama-3.1-8B-tool_use", true, ToolCallFormat::kHermes},
      {"llama3.1", true, ToolCallFormat::kBareJson},
      {"mistral-nemo", true, ToolCallFormat::kBareJson},
      {"smollm2", false, ToolCallFormat::kHermes},
      {"gemma2", false, ToolCallFormat::kHermes},
  };
  for (const Case& c : cases) {
    const std::string source = TemplateSource(c.name);
    const model::ChatTemplate tmpl = Load(source);
    EXPECT_EQ(TemplateTakesTools(tmpl), c.takes) << c.name;
    std::vector<model::ChatMessage> user{{"user", "Weather in Paris?"}};
    auto prompt = RenderChatPrompt(tmpl, source, user, Tools("\"auto\""));
    ASSERT_TRUE(prompt.ok()) << c.name << ": " << prompt.status().ToString();
    EXPECT_EQ(prompt->format, c.format) << c.name;
    EXPECT_NE(prompt->text.find("get_weather"), std::string::npos) << c.name;
    // Forced choices read Hearth's array whatever the template; none reads nothing.
    EXPECT_EQ(RenderChatPrompt(tmpl, source, user, Tools("\"required\""))->format, ToolCallFormat::kJsonArray);
    EXPECT_EQ(RenderChatPrompt(tmpl, source, user, Tools("\"none\""))->format, ToolCallFormat::kNone);
  }
}

TEST(ToolPromptTest, ToolTakingTemplateRendersTheHistoryItself) {
  const std::string source = TemplateSource("qwen2.5");
  auto prompt = RenderChatPrompt(Load(source), source, RoundTrip(), Tools("\"auto\""));
  ASSERT_TRUE(prompt.ok()) << prompt.status().ToString();
  EXPECT_NE(
      prompt->text.find("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"),
      std::string::npos)
      << prompt->text;
  EXPECT_NE(prompt->text.find("<tool_response>\n18 C and sunny\n</tool_response>"), std::string::npos) << prompt->text;
}

TEST(ToolPromptTest, TemplateWithoutToolsGetsThemInTheSystemPrompt) {
  const std::string source = TemplateSource("smollm2");
  const model::ChatTemplate tmpl = Load(source);
  std::vector<model::ChatMessage> messages = RoundTrip();
  messages.insert(messages.begin(), model::ChatMessage{"system", "Be brief."});
  auto prompt = RenderChatPrompt(tmpl, source, messages, Tools("\"auto\""));
  ASSERT_TRUE(prompt.ok()) << prompt.status().ToString();
  const std::string& text = prompt->text;
  // The caller's system text first, then the tools and how to call them.
  EXPECT_NE(text.find("<|im_start|>system\nBe brief.\n\nYou may call functions"), std::string::npos) << text;
  EXPECT_NE(text.find("\"name\":\"get_weather\""), std::string::npos) << text;
  EXPECT_NE(
      text.find("<|im_start|>assistant\n<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}\n"
                "</tool_call><|im_end|>"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("<|im_start|>user\n<tool_response>\n18 C and sunny\n</tool_response><|im_end|>"),
            std::string::npos)
      << text;
  // Forced: the system prompt asks for the array, and names the function.
  auto forced =
      RenderChatPrompt(tmpl, source, messages, Tools(R"({"type":"function","function":{"name":"get_weather"}})"));
  ASSERT_TRUE(forced.ok());
  EXPECT_NE(forced->text.find("Answer only with a JSON array"), std::string::npos);
  EXPECT_NE(forced->text.find("Call the function get_weather."), std::string::npos);
  EXPECT_NE(forced->text.find("[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}]<|im_end|>"),
            std::string::npos)
      << forced->text;
}

TEST(ToolPromptTest, NoToolsRendersAsBefore) {
  const std::string source = TemplateSource("smollm2");
  const model::ChatTemplate tmpl = Load(source);
  std::vector<model::ChatMessage> user{{"user", "hi"}};
  auto prompt = RenderChatPrompt(tmpl, source, user, ToolRequest{});
  ASSERT_TRUE(prompt.ok());
  EXPECT_EQ(prompt->text, *tmpl.Render(user, true));
  EXPECT_EQ(prompt->format, ToolCallFormat::kNone);
  // tool_choice none on a template without tools: nothing about tools is written.
  auto none = RenderChatPrompt(tmpl, source, user, Tools("\"none\""));
  EXPECT_EQ(none->text, prompt->text);
}

}  // namespace
}  // namespace hearth::daemon
