// Prompt tokenization; see prompt_tokens.h.
#include "daemon/api/prompt_tokens.h"

#include <string>

#include "daemon/openai/tool_prompt.h"
#include "model/chat_template.h"

namespace hearth::daemon {
namespace {

ApiError BadRequest(std::string param, std::string message, std::string code = "") {
  return ApiError{400, std::move(message), "invalid_request_error", std::move(param), std::move(code)};
}

}  // namespace

std::optional<ApiError> PromptTokens(const ApiRequest& request, const model::Tokenizer& tokenizer,
                                     std::vector<int32_t>* ids, ToolCallFormat* tool_format) {
  if (request.endpoint == ApiEndpoint::kCompletions) {
    if (request.prompt_is_tokens) {
      if (auto e = CheckPromptTokens(request, tokenizer.vocab_size())) return e;
      *ids = request.prompt_tokens;
    } else {
      *ids = tokenizer.Encode(request.prompt_text, /*add_special=*/true, /*parse_special=*/false);
    }
    return std::nullopt;
  }
  const StatusOr<model::ChatTemplate>& tmpl = tokenizer.chat();  // parsed once per model
  if (!tmpl.ok()) {
    return BadRequest("model",
                      "model '" + request.model + "' has no chat template Hearth can render (" +
                          tmpl.status().message() + "); use /v1/completions",
                      "unsupported_chat_template");
  }
  auto prompt = RenderChatPrompt(*tmpl, tokenizer.chat_template(), request.messages, request.tools);
  if (!prompt.ok()) return BadRequest("messages", prompt.status().message());
  if (tool_format) *tool_format = prompt->format;
  *ids = tokenizer.Encode(prompt->text, /*add_special=*/true, /*parse_special=*/true);
  return std::nullopt;
}

}  // namespace hearth::daemon
