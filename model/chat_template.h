// Chat templates: turn a conversation into the prompt text a model was trained on, by running
// the model's own Jinja template (tokenizer.chat_template) with model/jinja, in the
// environment Hugging Face's apply_chat_template uses. Any template within the supported
// subset works; one outside it is refused when loaded (a parse error) or when rendered.
#pragma once

#include <ctime>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/jinja/template.h"

namespace hearth::model {

struct ChatMessage {
  std::string role;     // "system", "user", "assistant" or "tool"
  std::string content;  // an assistant turn with tool calls and no text passes none
  std::string tool_calls_json{};  // the assistant's tool calls, a JSON array; empty: none
  std::string tool_call_id{};     // a tool result's call id; empty: none
  std::string name{};             // a tool result's function name; empty: none
};

class ChatTemplate {
 public:
  // Parses a Jinja template. Unimplemented when it is empty (callers report that only for chat
  // requests: plain completions need no template); InvalidArgument naming the line when it
  // does not parse. `eos_text`/`bos_text` are the spellings templates see as eos_token and
  // bos_token.
  static StatusOr<ChatTemplate> FromJinja(std::string_view source, std::string eos_text = "",
                                          std::string bos_text = "");

  // Renders `messages` (and `tools_json`, a JSON array of tool definitions, or empty for
  // none); add_generation_prompt appends the header of an assistant turn. With the default
  // empty bos_text the text has no BOS: tokenize it with add_special=true (which adds BOS when
  // the model wants one) and parse_special=true. InvalidArgument for an unknown role, malformed
  // tools or tool calls, or when the template fails (raise_exception included) or exceeds the
  // interpreter's limits. `now` is the time strftime_now formats (default: the clock's).
  StatusOr<std::string> Render(std::span<const ChatMessage> messages, bool add_generation_prompt,
                               std::string_view tools_json = "",
                               std::optional<std::time_t> now = std::nullopt) const;

 private:
  ChatTemplate(jinja::Template tmpl, std::string eos, std::string bos)
      : template_(std::move(tmpl)), eos_(std::move(eos)), bos_(std::move(bos)) {}

  jinja::Template template_;
  std::string eos_;
  std::string bos_;
};

}  // namespace hearth::model
