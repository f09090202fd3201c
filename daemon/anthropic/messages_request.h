// Parsing and validation of Anthropic Messages bodies (POST /v1/messages) into the ApiRequest
// the chat route runs, so that a Messages request takes the engine, journal and registry path
// a chat completion takes. Fields Hearth cannot honour yet (tools, thinking, images, ...) are
// refused by name, never ignored.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "daemon/openai/openai_error.h"
#include "daemon/openai/openai_request.h"

namespace hearth::daemon {

struct MessagesRequest {
  // endpoint kChatCompletions; messages hold `system` (as a first system message) and the
  // turns; max_tokens, sampling, stop (stop_sequences), stream; n = 1. The seed is left
  // unset: the server picks one.
  ApiRequest request;
  // A final assistant turn: the answer continues this text (Anthropic's prefill). It goes after
  // the rendered generation prompt and is not repeated in the response.
  std::string prefill;
  std::vector<std::string> stop_sequences;  // as given, to name the one that matched
};

// Returns the error to send, or nothing when *out is filled. Checks only what needs no model.
std::optional<ApiError> ParseMessagesRequest(std::string_view body, MessagesRequest* out);

}  // namespace hearth::daemon
