// POST /tokenize and POST /detokenize in vLLM's shapes: parsing their bodies and writing their
// answers. /tokenize takes {"model", "prompt", "add_special_tokens"} or {"model", "messages"}
// and answers {"tokens", "count", "max_model_len"}; /detokenize takes {"model", "tokens"} and
// answers {"prompt"}. Every rejection names its field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/openai/openai_error.h"
#include "daemon/openai/openai_request.h"

namespace hearth::daemon {

struct TokenizeRequest {
  // model, and the prompt: `messages` (endpoint kChatCompletions) or `prompt_text`
  // (kCompletions), as generation would parse them.
  ApiRequest prompt;
  bool add_special_tokens = true;  // prompt only: BOS/EOS as the model's tokenizer adds them
};

struct DetokenizeRequest {
  std::string model;
  std::vector<int32_t> tokens;  // non-negative; the vocabulary is checked by the caller
};

std::optional<ApiError> ParseTokenizeRequest(std::string_view body, TokenizeRequest* out);
std::optional<ApiError> ParseDetokenizeRequest(std::string_view body, DetokenizeRequest* out);

// Inputs longer than the model's context (`max_model_len`, 0: unknown) are refused, as
// generation would refuse them: 400 naming `param`, code context_length_exceeded.
std::optional<ApiError> CheckTokenCount(size_t count, int32_t max_model_len, const char* param);

std::string TokenizeResponseJson(const std::vector<int32_t>& tokens, int32_t max_model_len);
std::string DetokenizeResponseJson(std::string_view text);

}  // namespace hearth::daemon
