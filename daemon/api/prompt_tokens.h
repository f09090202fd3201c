// A request's prompt as token ids: the chat template rendered and tokenized (chat), or the
// text tokenized / the ids checked (completions). Shared by generation and POST /tokenize, so
// /tokenize counts exactly what generation would run.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "daemon/openai/openai_error.h"
#include "daemon/openai/openai_request.h"
#include "daemon/openai/tool_call_parser.h"
#include "model/tokenizer.h"

namespace hearth::daemon {

// Fills *ids, or returns the 400 to send (a template the model's file has that Hearth cannot
// render, messages it refuses, prompt ids outside the vocabulary). A chat request with tools
// is rendered as tool_prompt.h says; *tool_format (when given) is how its answer is read.
std::optional<ApiError> PromptTokens(const ApiRequest& request, const model::Tokenizer& tokenizer,
                                     std::vector<int32_t>* ids, ToolCallFormat* tool_format = nullptr);

}  // namespace hearth::daemon
