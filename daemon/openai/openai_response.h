// JSON of OpenAI responses: the whole chat.completion / text_completion objects, and the
// chunks of a server-sent-events stream. Text is made valid UTF-8 on the way out (a token may
// end inside a character; its exact bytes still go out in logprobs' `bytes`).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/engine/engine.h"

namespace hearth::daemon {

struct ResponseMeta {
  std::string id;       // "chatcmpl-<request id>" or "cmpl-<request id>"
  int64_t created = 0;  // unix seconds
  std::string model;
};

// The tokens of a chunk or a response for its logprobs (each with its top alternatives, in
// OpenAI's shape, with `bytes`); nullopt writes "logprobs": null (not asked for).
using LogprobTokens = std::optional<std::span<const GeneratedToken>>;

struct Usage {
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  int32_t cached_tokens = 0;  // of prompt_tokens, served by the prefix cache
};

// One call of a chat answer's message.tool_calls.
struct ToolCallOutput {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text, as generated
};

// A finished, non-streamed generation.
struct CompletionOutput {
  std::string text;
  FinishReason finish_reason = FinishReason::kStop;  // kStop or kLength
  Usage usage;
  bool logprobs = false;               // whether the client asked for them
  std::vector<GeneratedToken> tokens;  // when logprobs: every token that has an event
  // Chat: the calls read from the text, which is then only the content around them (null in
  // the message when empty); finish_reason kStop is written "tool_calls".
  std::vector<ToolCallOutput> tool_calls;
};

// GET /v1/models/{id}: {id, object: "model", created, owned_by: "hearth", max_model_len}, the
// last (vLLM's name for the context length: prompt + completion tokens) only when known (> 0).
std::string ModelObjectJson(std::string_view id, int64_t created, int32_t max_model_len = 0);

std::string ChatCompletionJson(const ResponseMeta& meta, const CompletionOutput& output);
std::string TextCompletionJson(const ResponseMeta& meta, const CompletionOutput& output);
// Several choices (n > 1): choice i gets index i; usage counts the prompt once (choice 0's)
// and the completion tokens of every choice.
std::string ChatCompletionJson(const ResponseMeta& meta, const std::vector<CompletionOutput>& choices);
std::string TextCompletionJson(const ResponseMeta& meta, const std::vector<CompletionOutput>& choices);
Usage SumUsage(const std::vector<CompletionOutput>& choices);

// --- Streaming ----------------------------------------------------------------------------
// Each builder returns one chunk's JSON; SseEvent frames it. `index` is the choice's index
// (0 unless the request asked for n > 1 choices).

inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";
std::string SseEvent(std::string_view json);  // "data: <json>\n\n"

// The first chat chunk: delta {role: "assistant", content: ""}.
std::string ChatRoleChunk(const ResponseMeta& meta, int32_t index = 0);
// A chat chunk with delta {content}; `logprobs` null when not asked for.
std::string ChatContentChunk(const ResponseMeta& meta, std::string_view text, LogprobTokens logprobs,
                             int32_t index = 0);
// The last chat chunk: empty delta and the finish_reason ("tool_calls" for kStop when
// `tool_calls`).
std::string ChatFinishChunk(const ResponseMeta& meta, FinishReason finish_reason, int32_t index = 0,
                            bool tool_calls = false);
// A chat chunk with delta {tool_calls: [{index: call_index, ...}]}: a call's first (id, type,
// function.name and the arguments so far) when `id` is not empty, else a fragment of its
// arguments (function.arguments only), as OpenAI streams them.
std::string ChatToolCallChunk(const ResponseMeta& meta, int32_t call_index, std::string_view id, std::string_view name,
                              std::string_view arguments, LogprobTokens logprobs, int32_t index = 0);
// A text_completion chunk; finish_reason nullopt means null. `text_offset` is where `text`
// starts in the whole completion (for logprobs' text_offset).
std::string TextChunk(const ResponseMeta& meta, std::string_view text, LogprobTokens logprobs, size_t text_offset,
                      std::optional<FinishReason> finish_reason, int32_t index = 0);
// The usage chunk sent after the finish when stream_options.include_usage: empty choices.
std::string UsageChunk(const ResponseMeta& meta, bool chat, const Usage& usage);

}  // namespace hearth::daemon
