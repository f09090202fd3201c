#include "daemon/openai/tool_prompt.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace hearth::daemon {
namespace {

constexpr std::string_view kProbeName = "hearth_probe_tool";

std::string Json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

bool HasToolTurns(const std::vector<model::ChatMessage>& messages) {
  for (const model::ChatMessage& m : messages) {
    if (m.role == "tool" || !m.tool_calls_json.empty()) return true;
  }
  return false;
}

// An assistant's calls (ChatMessage::tool_calls_json) as the answer would have written them.
std::string SpellCalls(const std::string& tool_calls_json, ToolCallFormat format) {
  rapidjson::Document doc;
  doc.Parse(tool_calls_json.data(), tool_calls_json.size());
  if (doc.HasParseError() || !doc.IsArray()) return "";
  rapidjson::Document calls(rapidjson::kArrayType);
  auto& a = calls.GetAllocator();
  for (const rapidjson::Value& c : doc.GetArray()) {
    const rapidjson::Value& fn = c["function"];
    rapidjson::Value call(rapidjson::kObjectType);
    call.AddMember("name", rapidjson::Value(fn["name"], a), a);
    call.AddMember("arguments", rapidjson::Value(fn["arguments"], a), a);
    calls.PushBack(call, a);
  }
  if (format == ToolCallFormat::kJsonArray) return Json(calls);
  std::string out;
  for (const rapidjson::Value& call : calls.GetArray()) {
    if (!out.empty()) out.append("\n");
    out.append("<tool_call>\n").append(Json(call)).append("\n</tool_call>");
  }
  return out;
}

// For a template without tools: calls and results become text it can render.
std::vector<model::ChatMessage> SpellToolTurns(std::vector<model::ChatMessage> messages, ToolCallFormat format) {
  for (model::ChatMessage& m : messages) {
    if (!m.tool_calls_json.empty()) {
      const std::string calls = SpellCalls(m.tool_calls_json, format);
      if (!m.content.empty()) m.content.append("\n");
      m.content.append(calls);
      m.tool_calls_json.clear();
    }
    if (m.role == "tool") {
      std::string text = "<tool_response>\n";
      text.append(m.content).append("\n</tool_response>");
      m = model::ChatMessage{"user", std::move(text)};
    }
  }
  return messages;
}

}  // namespace

bool TemplateTakesTools(const model::ChatTemplate& tmpl) {
  const std::vector<model::ChatMessage> probe{{"user", "hi"}};
  std::string tools = R"([{"type":"function","function":{"name":")";
  tools.append(kProbeName).append(R"(","description":"probe","parameters":{"type":"object","properties":{}}}}])");
  auto text = tmpl.Render(probe, /*add_generation_prompt=*/true, tools);
  return text.ok() && text->find(kProbeName) != std::string::npos;
}

ToolCallFormat TemplateToolFormat(std::string_view template_source) {
  return template_source.find("<tool_call>") != std::string_view::npos ? ToolCallFormat::kHermes
                                                                       : ToolCallFormat::kBareJson;
}

std::string ToolSystemPrompt(const ToolRequest& tools, ToolCallFormat format) {
  std::string out = "You may call functions to help with the user's request. The functions, as JSON:\n<tools>\n";
  rapidjson::Document doc;
  doc.Parse(tools.tools_json.data(), tools.tools_json.size());
  if (!doc.HasParseError() && doc.IsArray()) {
    for (const rapidjson::Value& t : doc.GetArray()) out.append(Json(t)).append("\n");
  }
  out.append("</tools>\n");
  if (format == ToolCallFormat::kJsonArray) {
    out.append(
        "Answer only with a JSON array of function calls: "
        "[{\"name\": \"function name\", \"arguments\": {\"argument\": \"value\"}}]");
    if (tools.choice == ToolChoice::kNamed) out.append("\nCall the function ").append(tools.forced_name).append(".");
    return out;
  }
  out.append(
      "To call a function, write a JSON object with its name and arguments inside <tool_call></tool_call> "
      "tags:\n<tool_call>\n{\"name\": \"function name\", \"arguments\": {\"argument\": \"value\"}}\n"
      "</tool_call>\nOtherwise answer the user directly.");
  return out;
}

StatusOr<ChatPrompt> RenderChatPrompt(const model::ChatTemplate& tmpl, std::string_view template_source,
                                      const std::vector<model::ChatMessage>& messages, const ToolRequest& tools) {
  ChatPrompt prompt;
  if (!tools.has_tools() && !HasToolTurns(messages)) {
    HEARTH_ASSIGN_OR_RETURN(prompt.text, tmpl.Render(messages, /*add_generation_prompt=*/true));
    return prompt;
  }
  const bool takes_tools = TemplateTakesTools(tmpl);
  if (tools.choice == ToolChoice::kNone || !tools.has_tools()) {
    prompt.format = ToolCallFormat::kNone;
  } else if (tools.forced()) {
    prompt.format = ToolCallFormat::kJsonArray;
  } else {
    prompt.format = takes_tools ? TemplateToolFormat(template_source) : ToolCallFormat::kHermes;
  }
  if (takes_tools) {
    HEARTH_ASSIGN_OR_RETURN(prompt.text, tmpl.Render(messages, /*add_generation_prompt=*/true, tools.tools_json));
    return prompt;
  }
  const ToolCallFormat spelling =
      prompt.format == ToolCallFormat::kJsonArray ? ToolCallFormat::kJsonArray : ToolCallFormat::kHermes;
  std::vector<model::ChatMessage> spelt = SpellToolTurns(messages, spelling);
  if (prompt.format == ToolCallFormat::kNone) {
    HEARTH_ASSIGN_OR_RETURN(prompt.text, tmpl.Render(spelt, /*add_generation_prompt=*/true));
    return prompt;
  }
  const std::string system = ToolSystemPrompt(tools, spelling);
  if (!spelt.empty() && spelt[0].role == "system") {
    spelt[0].content.append("\n\n").append(system);
    HEARTH_ASSIGN_OR_RETURN(prompt.text, tmpl.Render(spelt, /*add_generation_prompt=*/true));
    return prompt;
  }
  std::vector<model::ChatMessage> with_system = spelt;
  with_system.insert(with_system.begin(), model::ChatMessage{"system", system});
  auto text = tmpl.Render(with_system, /*add_generation_prompt=*/true);
  if (!text.ok() && !spelt.empty() && spelt[0].role == "user") {
    // A template without a system role (Gemma's raises): the tools open the first user turn.
    spelt[0].content.insert(0, system + "\n\n");
    text = tmpl.Render(spelt, /*add_generation_prompt=*/true);
  }
  if (!text.ok()) return text.status();
  prompt.text = std::move(text).value();
  return prompt;
}

}  // namespace hearth::daemon
