// Parsing and validation of OpenAI request bodies (/v1/chat/completions, /v1/completions) into
// plain structs. Every rejection is an ApiError naming the offending field in `param`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/openai/api_endpoint.h"
#include "daemon/openai/openai_error.h"
#include "daemon/openai/tool_request.h"
#include "model/chat_template.h"
#include "sampling/sampling_params.h"

namespace hearth::daemon {

// Most alternatives /v1/completions' integer `logprobs` may ask for.
inline constexpr int32_t kMaxCompletionLogprobs = 5;
// Most choices one request may ask for (`n`).
inline constexpr int32_t kMaxChoices = 128;
// max_tokens when the client gives none and the model's context length is unknown.
inline constexpr int32_t kDefaultMaxTokensWithoutContext = 2048;

struct ApiRequest {
  ApiEndpoint endpoint = ApiEndpoint::kChatCompletions;
  std::string model;

  // Chat: the conversation, each content flattened to text.
  std::vector<model::ChatMessage> messages;
  // Chat: tools, tool_choice, parallel_tool_calls. A forced choice's grammar is also in
  // sampling.grammar.
  ToolRequest tools;
  // Completions: either text or token ids.
  std::string prompt_text;
  std::vector<int32_t> prompt_tokens;
  bool prompt_is_tokens = false;

  std::optional<int32_t> max_tokens;  // none: up to the context length
  // num_logprobs filled from logprobs/top_logprobs; also logit_bias, min_tokens, ignore_eos,
  // stop_token_ids.
  SamplingParams sampling;
  std::optional<uint64_t> seed;       // none: the server picks one
  std::vector<std::string> stop;  // at most kMaxStopStrings of kMaxStopStringBytes (stop_matcher.h)

  // Chat: logprobs=true. Completions: logprobs is an integer (0 still returns the sampled
  // token's logprob). The number of alternatives is sampling.num_logprobs.
  bool logprobs = false;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  int32_t n = 1;               // choices, 1..kMaxChoices
};

// Parses `body` for `endpoint`. Checks only what needs no model: syntax, types and ranges.
// Returns the error to send, or nothing when *out is filled.
std::optional<ApiError> ParseApiRequest(ApiEndpoint endpoint, std::string_view body, ApiRequest* out);

// The error for a model the engine does not serve: 404 with code "model_not_found".
ApiError ModelNotFound(const std::string& model);

// Checks the tokenized prompt against the model and settles max_tokens: token ids must be in
// the vocabulary, the prompt must not be empty, and prompt + max_tokens must fit
// `context_length` (0: unknown, nothing to check). On success *max_tokens is the explicit
// value, or what is left of the context. min_tokens must not exceed it.
std::optional<ApiError> FitToContext(const ApiRequest& request, size_t num_prompt_tokens, int32_t context_length,
                                     int32_t* max_tokens);

// Token ids given in a completions prompt must be below `vocab_size`.
std::optional<ApiError> CheckPromptTokens(const ApiRequest& request, int32_t vocab_size);

// Token ids given in logit_bias and stop_token_ids must be below `vocab_size`.
std::optional<ApiError> CheckTokenFields(const ApiRequest& request, int32_t vocab_size);

}  // namespace hearth::daemon
