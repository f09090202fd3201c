// The chat prompt of a request that offers tools or carries tool turns, and the wire format its
// answer's calls take. A template that takes `tools` gets them (and the history's tool_calls
// and tool results) as Hugging Face's apply_chat_template passes them, and the answer is read
// in the template's own format; a template that does not gets the tools described in the
// system prompt and the history spelt in Hermes tags (docs/api.md, "Tool calling").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "daemon/openai/tool_call_parser.h"
#include "daemon/openai/tool_request.h"
#include "model/chat_template.h"

namespace hearth::daemon {

struct ChatPrompt {
  std::string text;
  ToolCallFormat format = ToolCallFormat::kNone;  // how the answer's calls are read
};

// InvalidArgument when the template fails on these messages.
StatusOr<ChatPrompt> RenderChatPrompt(const model::ChatTemplate& tmpl, std::string_view template_source,
                                      const std::vector<model::ChatMessage>& messages, const ToolRequest& tools);

// Whether the template writes the tools it is given (rendered with a probe tool).
bool TemplateTakesTools(const model::ChatTemplate& tmpl);
// The format of calls a tool-taking template asks for: kHermes where it writes <tool_call>
// tags, else kBareJson (Llama 3.x's {"name", "parameters"}, Mistral's [TOOL_CALLS] array).
ToolCallFormat TemplateToolFormat(std::string_view template_source);

// The system prompt text that describes `tools` (a non-empty ToolRequest) to a template that
// does not take them, in the format `format` (kHermes for auto, kJsonArray when forced).
std::string ToolSystemPrompt(const ToolRequest& tools, ToolCallFormat format);

}  // namespace hearth::daemon
