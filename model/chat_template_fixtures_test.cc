// The published chat templates of widely used model families (model/jinja/testdata/templates)
// render every conversation byte for byte as Python's jinja2 does (renderings.json, written by
// model/jinja/testdata/render_reference.py), and fail where jinja2 fails.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "model/chat_template.h"

namespace hearth::model {
namespace {

std::string Dir() {
  const char* src = std::getenv("HEARTH_SOURCE_DIR");
  return std::string(src ? src : ".") + "/model/jinja/testdata";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "missing " << path;
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string JsonText(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return sb.GetString();
}

struct Conversation {
  std::vector<ChatMessage> messages;
  std::string tools_json;
};

std::map<std::string, Conversation> LoadConversations() {
  rapidjson::Document d;
  d.Parse(ReadFile(Dir() + "/conversations.json").c_str());
  EXPECT_FALSE(d.HasParseError());
  std::map<std::string, Conversation> out;
  for (const auto& c : d.GetArray()) {
    Conversation conv;
    if (c.HasMember("tools")) conv.tools_json = JsonText(c["tools"]);
    for (const auto& m : c["messages"].GetArray()) {
      ChatMessage msg{m["role"].GetString(), m["content"].IsString() ? m["content"].GetString() : ""};
      if (m.HasMember("tool_calls")) msg.tool_calls_json = JsonText(m["tool_calls"]);
      if (m.HasMember("tool_call_id")) msg.tool_call_id = m["tool_call_id"].GetString();
      if (m.HasMember("name")) msg.name = m["name"].GetString();
      conv.messages.push_back(std::move(msg));
    }
    out[c["name"].GetString()] = std::move(conv);
  }
  return out;
}

TEST(ChatTemplateFixturesTest, RendersAsJinja2) {
  const auto conversations = LoadConversations();
  rapidjson::Document d;
  d.Parse(ReadFile(Dir() + "/renderings.json").c_str());
  ASSERT_FALSE(d.HasParseError());
  // strftime_now's instant in render_reference.py; TZ=UTC so the date is the same here.
  setenv("TZ", "UTC", 1);
  int rendered = 0, refused = 0;
  std::set<std::string> templates;
  for (const auto& r : d["renderings"].GetArray()) {
    const std::string name = r["template"].GetString();
    const std::string conv_name = r["conversation"].GetString();
    SCOPED_TRACE(name + " / " + conv_name + (r["add_generation_prompt"].GetBool() ? " +gen" : ""));
    // The bos/eos spellings render_reference.py gave this template.
    ASSERT_TRUE(d["tokens"].HasMember(name.c_str()));
    const auto& tokens = d["tokens"][name.c_str()];
    auto tmpl = ChatTemplate::FromJinja(ReadFile(Dir() + "/templates/" + name + ".jinja"),
                                        tokens["eos_token"].GetString(), tokens["bos_token"].GetString());
    ASSERT_TRUE(tmpl.ok()) << tmpl.status().ToString();
    templates.insert(name);
    const Conversation& conv = conversations.at(conv_name);
    auto text = tmpl->Render(conv.messages, r["add_generation_prompt"].GetBool(), conv.tools_json,
                             d["now_unix"].GetInt64());
    if (r.HasMember("error")) {
      EXPECT_FALSE(text.ok()) << "jinja2 failed with: " << r["error"].GetString();
      ++refused;
    } else {
      ASSERT_TRUE(text.ok()) << text.status().ToString();
      EXPECT_EQ(*text, r["text"].GetString());
      ++rendered;
    }
  }
  EXPECT_EQ(templates.size(), d["tokens"].MemberCount());
  EXPECT_GE(templates.size(), 23u);
  EXPECT_GE(rendered, 180);
  EXPECT_GE(refused, 6);
}

}  // namespace
}  // namespace hearth::model
