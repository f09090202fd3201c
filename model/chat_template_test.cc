#include "model/chat_template.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <sstream>

#include "model/gguf_test_util.h"

namespace hearth::model {
namespace {

using Messages = std::vector<ChatMessage>;

// Renderings of the real templates by jinja2 (scripts/make-tokenizer-fixtures.py), with no
// bos_token as the daemon renders them.
TEST(ChatTemplateTest, MatchesJinjaReference) {
  std::ifstream in(testing::TestdataDir() + "/tokenizer/chat_templates.json");
  ASSERT_TRUE(in) << "missing chat_templates.json";
  std::stringstream buf;
  buf << in.rdbuf();
  rapidjson::Document d;
  d.Parse(buf.str().c_str());
  ASSERT_FALSE(d.HasParseError());
  int checked = 0;
  for (const auto& c : d["cases"].GetArray()) {
    const std::string name = c["template"].GetString();
    auto tmpl = ChatTemplate::FromJinja(d["templates"][name.c_str()].GetString(),
                                        d["eos"][name.c_str()].GetString());
    ASSERT_TRUE(tmpl.ok()) << name << ": " << tmpl.status().ToString();
    Messages messages;
    for (const auto& m : c["messages"].GetArray()) {
      messages.push_back({m["role"].GetString(), m["content"].GetString()});
    }
    auto text = tmpl->Render(messages, c["add_generation_prompt"].GetBool());
    ASSERT_TRUE(text.ok()) << text.status().ToString();
    EXPECT_EQ(*text, c["expected"].GetString()) << name << " case " << checked;
    ++checked;
  }
  EXPECT_GE(checked, 12);
}

TEST(ChatTemplateTest, ToolsAndToolCallsReachTheTemplate) {
  auto tmpl = ChatTemplate::FromJinja(
      "{% for t in tools or [] %}[{{ t.function.name }}]{% endfor %}"
      "{% for m in messages %}{{ m.role }}:{{ m.content if m.content is not none else '-' }}"
      "{% if m.tool_calls %}{{ m.tool_calls[0].function.arguments|tojson }}{% endif %}"
      "{% if m.tool_call_id is defined %}#{{ m.tool_call_id }}{% endif %};{% endfor %}"
      "{{ bos_token }}{{ eos_token }}",
      "</s>", "<s>");
  ASSERT_TRUE(tmpl.ok()) << tmpl.status().ToString();
  Messages messages = {{"user", "hi"},
                       {"assistant", "", R"([{"function":{"name":"f","arguments":{"x":1}}}])"},
                       {"tool", "42", "", "call1", "f"}};
  auto text = tmpl->Render(messages, true, R"([{"type":"function","function":{"name":"f"}}])");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text, "[f]user:hi;assistant:-{\"x\": 1};tool:42#call1;<s></s>");
  EXPECT_EQ(*tmpl->Render(Messages{{"user", "x"}}, true), "user:x;<s></s>");  // tools: none
}

TEST(ChatTemplateTest, Errors) {
  EXPECT_EQ(ChatTemplate::FromJinja("").status().code(), Status::Code::kUnimplemented);
  auto bad = ChatTemplate::FromJinja("{% for m in messages %}");
  EXPECT_TRUE(bad.status().IsInvalidArgument());
  EXPECT_NE(bad.status().message().find("line 1"), std::string::npos) << bad.status().message();
  auto chatml = ChatTemplate::FromJinja("{% for m in messages %}{{ m.content }}{% endfor %}");
  ASSERT_TRUE(chatml.ok());
  EXPECT_TRUE(chatml->Render(Messages{{"wizard", "x"}}, true).status().IsInvalidArgument());
  EXPECT_TRUE(chatml->Render(Messages{{"user", "x"}}, true, "{not json").status().IsInvalidArgument());
  EXPECT_TRUE(chatml->Render(Messages{{"assistant", "", "{}"}}, true).status().IsInvalidArgument());
  auto raising = ChatTemplate::FromJinja("{{ raise_exception('roles must alternate') }}");
  ASSERT_TRUE(raising.ok());
  auto r = raising->Render(Messages{{"user", "x"}}, true);
  EXPECT_TRUE(r.status().IsInvalidArgument());
  EXPECT_NE(r.status().message().find("roles must alternate"), std::string::npos);
}

}  // namespace
}  // namespace hearth::model
