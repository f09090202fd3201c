#include "model/chat_template.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <sstream>

#include "model/gguf_test_util.h"

namespace hearth::model {
namespace {

using Messages = std::vector<ChatMessage>;

// Renderings of the real templates by jinja2 (scripts/make-tokenizer-fixtures.py).
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

TEST(ChatTemplateTest, DetectsFamiliesAndDefaultSystemPrompt) {
  auto chatml = ChatTemplate::FromJinja(
      "{{ '<|im_start|>system\\nYou are Qwen.<|im_end|>\\n' }}{{ '<|im_start|>' + role }}");
  ASSERT_TRUE(chatml.ok());
  EXPECT_EQ(chatml->family(), ChatTemplateFamily::kChatMl);
  EXPECT_EQ(chatml->default_system_prompt(), "You are Qwen.");
  auto plain = ChatTemplate::FromJinja("{{'<|im_start|>' + message['role'] + '\\n'}}");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->default_system_prompt(), "");
  EXPECT_EQ(*plain->Render(Messages{{"user", "hi"}}, true),
            "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  auto llama2 = ChatTemplate::FromJinja("[INST] <<SYS>>\\n");
  ASSERT_TRUE(llama2.ok());
  EXPECT_EQ(llama2->family(), ChatTemplateFamily::kLlama2);
  EXPECT_EQ(*llama2->Render(Messages{{"system", "S"}, {"user", "u1"}, {"assistant", "a1"},
                                     {"user", "u2"}},
                            true),
            "[INST] <<SYS>>\nS\n<</SYS>>\n\nu1 [/INST] a1 </s><s>[INST] u2 [/INST]");
}

TEST(ChatTemplateTest, Errors) {
  EXPECT_EQ(ChatTemplate::FromJinja("").status().code(), Status::Code::kUnimplemented);
  EXPECT_EQ(ChatTemplate::FromJinja("{{ messages }}").status().code(),
            Status::Code::kUnimplemented);
  auto chatml = ChatTemplate::FromJinja("<|im_start|>");
  ASSERT_TRUE(chatml.ok());
  EXPECT_TRUE(chatml->Render(Messages{{"wizard", "x"}}, true).status().IsInvalidArgument());
  auto mistral = ChatTemplate::FromJinja("[INST]", "</s>");
  ASSERT_TRUE(mistral.ok());
  EXPECT_TRUE(mistral->Render(Messages{{"assistant", "x"}}, true).status().IsInvalidArgument());
  EXPECT_TRUE(mistral->Render(Messages{{"user", "a"}, {"user", "b"}}, true)
                  .status()
                  .IsInvalidArgument());
  EXPECT_EQ(*mistral->Render(Messages{{"system", "S"}, {"user", "u"}}, true), "[INST] S\n\nu [/INST]");
}

}  // namespace
}  // namespace hearth::model
