#include "model/chat_template.h"

#include <ctime>

namespace hearth::model {
namespace {

using jinja::Value;
using jinja::ValueDict;
using jinja::ValueList;

StatusOr<Value> MessageValue(const ChatMessage& m, size_t index) {
  if (m.role != "system" && m.role != "user" && m.role != "assistant" && m.role != "tool") {
    return Status::InvalidArgument("unknown chat role '" + m.role +
                                   "' (expected system, user, assistant or tool)");
  }
  ValueDict d;
  d.Set("role", Value(m.role));
  // As OpenAI clients send it: an assistant turn that only calls tools has content null.
  const bool no_text = m.content.empty() && !m.tool_calls_json.empty();
  d.Set("content", no_text ? Value::Null() : Value(m.content));
  if (!m.tool_calls_json.empty()) {
    auto calls = jinja::ParseJson(m.tool_calls_json);
    if (!calls.ok() || !calls->is_list()) {
      return Status::InvalidArgument("messages[" + std::to_string(index) +
                                     "].tool_calls must be a JSON array");
    }
    d.Set("tool_calls", *calls);
  }
  if (!m.tool_call_id.empty()) d.Set("tool_call_id", Value(m.tool_call_id));
  if (!m.name.empty()) d.Set("name", Value(m.name));
  return Value(std::move(d));
}

}  // namespace

StatusOr<ChatTemplate> ChatTemplate::FromJinja(std::string_view source, std::string eos_text,
                                               std::string bos_text) {
  if (source.empty()) return Status::Unimplemented("the model has no chat template");
  auto tmpl = jinja::Template::Parse(source);
  if (!tmpl.ok()) {
    return Status::InvalidArgument("the model's chat template does not parse (" +
                                   tmpl.status().message() + ")");
  }
  return ChatTemplate(std::move(tmpl).value(), std::move(eos_text), std::move(bos_text));
}

StatusOr<std::string> ChatTemplate::Render(std::span<const ChatMessage> messages,
                                           bool add_generation_prompt,
                                           std::string_view tools_json,
                                           std::optional<std::time_t> now) const {
  ValueList list;
  for (size_t i = 0; i < messages.size(); ++i) {
    HEARTH_ASSIGN_OR_RETURN(Value m, MessageValue(messages[i], i));
    list.push_back(std::move(m));
  }
  std::unordered_map<std::string, Value> vars;
  vars["messages"] = Value(std::move(list));
  vars["tools"] = Value::Null();  // as transformers passes it when there are none
  if (!tools_json.empty()) {
    auto tools = jinja::ParseJson(tools_json);
    if (!tools.ok() || !tools->is_list()) return Status::InvalidArgument("tools must be a JSON array");
    vars["tools"] = *tools;
  }
  vars["add_generation_prompt"] = Value(add_generation_prompt);
  vars["bos_token"] = Value(bos_);
  vars["eos_token"] = Value(eos_);
  auto text = template_.Render(vars, now ? *now : std::time(nullptr));
  if (!text.ok()) {
    return Status::InvalidArgument("the model's chat template failed on these messages (" +
                                   text.status().message() + ")");
  }
  return std::move(text).value();
}

}  // namespace hearth::model
