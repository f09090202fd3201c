// The field table; see request_fields.h. Keep docs/api.md's table in step with it.
#include "daemon/openai/request_fields.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace hearth::daemon {
namespace {

using rapidjson::Value;

enum Where : uint8_t { kChat = 1, kText = 2, kBoth = 3, kEmbed = 4 };

// What a value must be for a field Hearth does not implement to be accepted: the value that
// asks for nothing (false, 1, an empty list, ...). nullptr: the field works (the parser reads
// it) or has no effect on the answer by its nature (`user`).
using IsHarmless = bool (*)(const Value&);

struct FieldRule {
  const char* name;
  uint8_t where;
  IsHarmless harmless;  // nullptr: accepted whatever its value (the parser checks it)
  const char* refusal;  // the 400's message when `harmless` says no
};

bool IsFalse(const Value& v) { return v.IsBool() && !v.GetBool(); }
bool IsTrue(const Value& v) { return v.IsBool() && v.GetBool(); }
bool IsOne(const Value& v) { return v.IsNumber() && v.GetDouble() == 1.0; }
bool IsZero(const Value& v) { return v.IsNumber() && v.GetDouble() == 0.0; }
bool IsEmptyArray(const Value& v) { return v.IsArray() && v.Empty(); }
bool IsEmptyString(const Value& v) { return v.IsString() && v.GetStringLength() == 0; }
bool Never(const Value&) { return false; }

bool IsString(const Value& v, std::string_view s) {
  return v.IsString() && std::string_view(v.GetString(), v.GetStringLength()) == s;
}

bool IsTextOnly(const Value& v) { return v.IsArray() && v.Size() == 1 && IsString(v[0], "text"); }
bool IsDefaultTier(const Value& v) { return IsString(v, "auto") || IsString(v, "default"); }
bool IsString(const Value& v) { return v.IsString(); }

// Ordered as docs/api.md lists them: what works, then what is refused.
constexpr FieldRule kRules[] = {
    // Honoured (parsed and checked in openai_request.cc).
    {"model", kBoth | kEmbed, nullptr, ""},
    {"messages", kChat, nullptr, ""},
    {"prompt", kText, nullptr, ""},
    {"max_tokens", kBoth, nullptr, ""},
    {"max_completion_tokens", kChat, nullptr, ""},
    {"temperature", kBoth, nullptr, ""},
    {"top_p", kBoth, nullptr, ""},
    {"top_k", kBoth, nullptr, ""},
    {"min_p", kBoth, nullptr, ""},
    {"presence_penalty", kBoth, nullptr, ""},
    {"frequency_penalty", kBoth, nullptr, ""},
    {"repetition_penalty", kBoth, nullptr, ""},
    {"logit_bias", kBoth, nullptr, ""},
    {"seed", kBoth, nullptr, ""},
    {"stop", kBoth, nullptr, ""},
    {"stop_token_ids", kBoth, nullptr, ""},
    {"min_tokens", kBoth, nullptr, ""},
    {"ignore_eos", kBoth, nullptr, ""},
    {"n", kBoth, nullptr, ""},
    {"logprobs", kBoth, nullptr, ""},
    {"top_logprobs", kChat, nullptr, ""},
    {"stream", kBoth, nullptr, ""},
    {"stream_options", kBoth, nullptr, ""},
    {"tools", kChat, nullptr, ""},  // tools, tool_choice, parallel_tool_calls: tool_request.h
    {"tool_choice", kChat, nullptr, ""},
    {"parallel_tool_calls", kChat, nullptr, ""},
    // No effect on the answer by their nature: identifiers for the caller's own bookkeeping.
    {"user", kBoth | kEmbed, IsString, "user must be a string"},
    {"safety_identifier", kChat, IsString, "safety_identifier must be a string"},
    {"prompt_cache_key", kChat, IsString, "prompt_cache_key must be a string (Hearth's prefix cache needs no key)"},
    // Accepted only at the value that asks for nothing.
    {"best_of", kText, IsOne, "only best_of=1 is supported"},
    {"echo", kBoth, IsFalse, "echo is not supported"},
    {"suffix", kText, IsEmptyString, "suffix (insertion) is not supported"},
    {"store", kChat, IsFalse, "store is not supported: Hearth keeps no completions for later retrieval"},
    {"metadata", kChat, Never, "metadata is not supported: it only applies to stored completions (store)"},
    {"service_tier", kChat, IsDefaultTier, "service_tier: only \"auto\" and \"default\" are supported"},
    {"modalities", kChat, IsTextOnly, "modalities: only [\"text\"] is supported"},
    {"audio", kChat, Never, "audio output is not supported"},
    {"prediction", kChat, Never, "prediction (predicted outputs) is not supported"},
    {"reasoning_effort", kChat, Never, "reasoning_effort is not supported"},
    {"verbosity", kChat, Never, "verbosity is not supported"},
    {"web_search_options", kChat, Never, "web search is not supported"},
    {"functions", kChat, IsEmptyArray, "functions (deprecated) are not supported: use tools"},
    {"function_call", kChat, Never, "function_call (deprecated) is not supported: use tool_choice"},
    // Structured output.
    {"response_format", kBoth, nullptr, ""},  // text, json_object, json_schema: response_format.h
    {"grammar", kBoth, nullptr, ""},
    {"json_schema", kBoth, Never, "json_schema is not supported"},
    {"guided_json", kBoth, Never, "guided_json is not supported"},
    {"guided_regex", kBoth, Never, "guided_regex is not supported"},
    {"guided_choice", kBoth, Never, "guided_choice is not supported"},
    {"guided_grammar", kBoth, Never, "guided_grammar is not supported"},
    {"guided_decoding_backend", kBoth, Never, "guided_decoding_backend is not supported"},
    {"guided_whitespace_pattern", kBoth, Never, "guided_whitespace_pattern is not supported"},
    {"structured_outputs", kBoth, Never, "structured_outputs is not supported"},
    // vLLM's other extensions.
    {"use_beam_search", kBoth, IsFalse, "beam search is not supported"},
    {"length_penalty", kBoth, IsOne, "length_penalty (beam search) is not supported"},
    {"include_stop_str_in_output", kBoth, IsFalse, "include_stop_str_in_output is not supported"},
    {"skip_special_tokens", kBoth, IsTrue, "skip_special_tokens=false is not supported"},
    {"spaces_between_special_tokens", kBoth, IsTrue, "spaces_between_special_tokens=false is not supported"},
    {"add_generation_prompt", kChat, IsTrue, "add_generation_prompt=false is not supported"},
    {"continue_final_message", kChat, IsFalse, "continue_final_message is not supported"},
    {"add_special_tokens", kBoth, Never, "add_special_tokens is not supported on this endpoint"},
    {"chat_template", kChat, Never, "chat_template is not supported: the model's own template is used"},
    {"chat_template_kwargs", kChat, Never, "chat_template_kwargs is not supported"},
    {"documents", kChat, Never, "documents is not supported"},
    {"truncate_prompt_tokens", kBoth, Never, "truncate_prompt_tokens is not supported"},
    {"prompt_logprobs", kBoth, IsZero, "prompt_logprobs is not supported"},
    {"allowed_token_ids", kBoth, Never, "allowed_token_ids is not supported"},
    {"bad_words", kBoth, IsEmptyArray, "bad_words is not supported"},
    {"priority", kBoth, IsZero, "priority is not supported on the API"},
    {"return_tokens_as_token_ids", kBoth, IsFalse, "return_tokens_as_token_ids is not supported"},
    // /v1/embeddings (parsed in embeddings_request.cc; dimensions only at the model's width).
    {"input", kEmbed, nullptr, ""},
    {"encoding_format", kEmbed, nullptr, ""},
    {"dimensions", kEmbed, nullptr, ""},
    {"pooling", kEmbed, nullptr, ""},
};

const FieldRule* Find(std::string_view name) {
  for (const FieldRule& rule : kRules) {
    if (name == rule.name) return &rule;
  }
  return nullptr;
}

ApiError Refuse(std::string param, std::string message) {
  return ApiError{400, std::move(message), "invalid_request_error", std::move(param), ""};
}

}  // namespace

std::optional<ApiError> CheckRequestFields(ApiEndpoint endpoint, const Value& body) {
  const uint8_t here = endpoint == ApiEndpoint::kChatCompletions ? kChat
                       : endpoint == ApiEndpoint::kCompletions   ? kText
                                                                  : kEmbed;
  for (auto it = body.MemberBegin(); it != body.MemberEnd(); ++it) {
    const std::string name(it->name.GetString(), it->name.GetStringLength());
    const FieldRule* rule = Find(name);
    if (rule == nullptr || (rule->where & here) == 0) {
      return Refuse(name, "Unrecognized request argument supplied: " + name);
    }
    if (rule->harmless == nullptr || it->value.IsNull()) continue;  // null means absent
    if (!rule->harmless(it->value)) return Refuse(name, rule->refusal);
  }
  return std::nullopt;
}

}  // namespace hearth::daemon
