// Response JSON, written with RapidJSON's Writer.
#include "daemon/openai/openai_response.h"

#include <cmath>

#include "common/json_writer.h"
#include "model/unicode.h"

namespace hearth::daemon {
namespace {

void Text(JsonWriter& w, std::string_view s) { WriteString(w, model::SanitizeUtf8(s)); }

void Key(JsonWriter& w, const char* key) { w.Key(key); }

// JSON has no -Infinity: a logprob of an impossible token is written as OpenAI's floor.
void Logprob(JsonWriter& w, float lp) { w.Double(std::isfinite(lp) ? lp : -9999.0); }

void Bytes(JsonWriter& w, std::string_view s) {
  w.StartArray();
  for (char c : s) w.Uint(static_cast<uint8_t>(c));
  w.EndArray();
}

void Header(JsonWriter& w, const ResponseMeta& meta, const char* object) {
  Key(w, "id");
  Text(w, meta.id);
  Key(w, "object");
  w.String(object);
  Key(w, "created");
  w.Int64(meta.created);
  Key(w, "model");
  Text(w, meta.model);
}

void UsageObject(JsonWriter& w, const Usage& usage) {
  Key(w, "usage");
  w.StartObject();
  Key(w, "prompt_tokens");
  w.Int(usage.prompt_tokens);
  Key(w, "completion_tokens");
  w.Int(usage.completion_tokens);
  Key(w, "total_tokens");
  w.Int(usage.prompt_tokens + usage.completion_tokens);
  Key(w, "prompt_tokens_details");  // OpenAI's shape; vLLM sends it too
  w.StartObject();
  Key(w, "cached_tokens");
  w.Int(usage.cached_tokens);
  w.EndObject();
  w.EndObject();
}

void Finish(JsonWriter& w, std::optional<FinishReason> reason, bool tool_calls = false) {
  Key(w, "finish_reason");
  if (reason) {
    w.String(tool_calls && *reason == FinishReason::kStop ? "tool_calls" : FinishReasonName(*reason));
  } else {
    w.Null();
  }
}

// The message's tool_calls, or a delta's (one call, with only what `id` says is present).
void ToolCallsArray(JsonWriter& w, const std::vector<ToolCallOutput>& calls, int32_t first_index) {
  Key(w, "tool_calls");
  w.StartArray();
  for (size_t i = 0; i < calls.size(); ++i) {
    const ToolCallOutput& c = calls[i];
    w.StartObject();
    if (first_index >= 0) {
      Key(w, "index");
      w.Int(first_index + static_cast<int>(i));
    }
    if (!c.id.empty()) {
      Key(w, "id");
      Text(w, c.id);
      Key(w, "type");
      w.String("function");
    }
    Key(w, "function");
    w.StartObject();
    if (!c.id.empty()) {
      Key(w, "name");
      Text(w, c.name);
    }
    Key(w, "arguments");
    Text(w, c.arguments);
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
}

// Chat format: {"content": [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]}.
void ChatLogprobs(JsonWriter& w, LogprobTokens tokens) {
  Key(w, "logprobs");
  if (!tokens) {
    w.Null();
    return;
  }
  w.StartObject();
  Key(w, "content");
  w.StartArray();
  for (const GeneratedToken& e : *tokens) {
    w.StartObject();
    Key(w, "token");
    Text(w, e.bytes);
    Key(w, "logprob");
    Logprob(w, e.logprob);
    Key(w, "bytes");
    Bytes(w, e.bytes);
    Key(w, "top_logprobs");
    w.StartArray();
    for (const TokenAlternative& t : e.top) {
      w.StartObject();
      Key(w, "token");
      Text(w, t.bytes);
      Key(w, "logprob");
      Logprob(w, t.logprob);
      Key(w, "bytes");
      Bytes(w, t.bytes);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

// Legacy completions format: parallel arrays tokens, token_logprobs, top_logprobs (one
// {token: logprob} object per position) and text_offset.
void TextLogprobs(JsonWriter& w, LogprobTokens tokens, size_t text_offset) {
  Key(w, "logprobs");
  if (!tokens) {
    w.Null();
    return;
  }
  w.StartObject();
  Key(w, "tokens");
  w.StartArray();
  for (const GeneratedToken& e : *tokens) Text(w, e.bytes);
  w.EndArray();
  Key(w, "token_logprobs");
  w.StartArray();
  for (const GeneratedToken& e : *tokens) Logprob(w, e.logprob);
  w.EndArray();
  Key(w, "top_logprobs");
  w.StartArray();
  for (const GeneratedToken& e : *tokens) {
    w.StartObject();
    for (const TokenAlternative& t : e.top) {
      Text(w, t.bytes);  // as a key
      Logprob(w, t.logprob);
    }
    w.EndObject();
  }
  w.EndArray();
  Key(w, "text_offset");
  w.StartArray();
  for (const GeneratedToken& e : *tokens) {
    w.Uint64(text_offset);
    text_offset += e.bytes.size();
  }
  w.EndArray();
  w.EndObject();
}

}  // namespace

std::string ModelObjectJson(std::string_view id, int64_t created, int32_t max_model_len) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Key(w, "id");
  Text(w, id);
  Key(w, "object");
  w.String("model");
  Key(w, "created");
  w.Int64(created);
  Key(w, "owned_by");
  w.String("hearth");
  if (max_model_len > 0) {
    Key(w, "max_model_len");
    w.Int(max_model_len);
  }
  w.EndObject();
  return buf.GetString();
}

std::string ChatCompletionJson(const ResponseMeta& meta, const CompletionOutput& output) {
  return ChatCompletionJson(meta, std::vector<CompletionOutput>{output});
}

std::string TextCompletionJson(const ResponseMeta& meta, const CompletionOutput& output) {
  return TextCompletionJson(meta, std::vector<CompletionOutput>{output});
}

Usage SumUsage(const std::vector<CompletionOutput>& choices) {
  Usage usage;
  if (!choices.empty()) {  // one prompt for every choice, counted once
    usage.prompt_tokens = choices[0].usage.prompt_tokens;
    usage.cached_tokens = choices[0].usage.cached_tokens;
  }
  for (const CompletionOutput& c : choices) usage.completion_tokens += c.usage.completion_tokens;
  return usage;
}

std::string ChatCompletionJson(const ResponseMeta& meta, const std::vector<CompletionOutput>& choices) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Header(w, meta, "chat.completion");
  Key(w, "choices");
  w.StartArray();
  for (size_t i = 0; i < choices.size(); ++i) {
    const CompletionOutput& output = choices[i];
    w.StartObject();
    Key(w, "index");
    w.Int(static_cast<int>(i));
    Key(w, "message");
    w.StartObject();
    Key(w, "role");
    w.String("assistant");
    Key(w, "content");
    if (output.tool_calls.empty() || !output.text.empty()) {
      Text(w, output.text);
    } else {
      w.Null();  // OpenAI's message of calls alone
    }
    if (!output.tool_calls.empty()) ToolCallsArray(w, output.tool_calls, /*first_index=*/-1);
    w.EndObject();
    ChatLogprobs(w, output.logprobs ? LogprobTokens(output.tokens) : std::nullopt);
    Finish(w, output.finish_reason, !output.tool_calls.empty());
    w.EndObject();
  }
  w.EndArray();
  UsageObject(w, SumUsage(choices));
  w.EndObject();
  return buf.GetString();
}

std::string TextCompletionJson(const ResponseMeta& meta, const std::vector<CompletionOutput>& choices) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Header(w, meta, "text_completion");
  Key(w, "choices");
  w.StartArray();
  for (size_t i = 0; i < choices.size(); ++i) {
    const CompletionOutput& output = choices[i];
    w.StartObject();
    Key(w, "index");
    w.Int(static_cast<int>(i));
    Key(w, "text");
    Text(w, output.text);
    TextLogprobs(w, output.logprobs ? LogprobTokens(output.tokens) : std::nullopt, 0);
    Finish(w, output.finish_reason);
    w.EndObject();
  }
  w.EndArray();
  UsageObject(w, SumUsage(choices));
  w.EndObject();
  return buf.GetString();
}

std::string SseEvent(std::string_view json) {
  std::string out;
  out.reserve(json.size() + 8);
  out.append("data: ").append(json).append("\n\n");
  return out;
}

namespace {

// {id, object, created, model, choices: [{index, delta: {...}, logprobs, finish_reason}]}
// with the delta written by `delta`.
template <typename DeltaFn>
std::string ChatChunk(const ResponseMeta& meta, int32_t index, DeltaFn delta, LogprobTokens logprobs,
                      std::optional<FinishReason> finish_reason, bool tool_calls = false) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Header(w, meta, "chat.completion.chunk");
  Key(w, "choices");
  w.StartArray();
  w.StartObject();
  Key(w, "index");
  w.Int(index);
  Key(w, "delta");
  w.StartObject();
  delta(w);
  w.EndObject();
  ChatLogprobs(w, logprobs);
  Finish(w, finish_reason, tool_calls);
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

}  // namespace

std::string ChatRoleChunk(const ResponseMeta& meta, int32_t index) {
  return ChatChunk(
      meta, index,
      [](JsonWriter& w) {
        Key(w, "role");
        w.String("assistant");
        Key(w, "content");
        w.String("");
      },
      std::nullopt, std::nullopt);
}

std::string ChatContentChunk(const ResponseMeta& meta, std::string_view text, LogprobTokens logprobs, int32_t index) {
  return ChatChunk(
      meta, index,
      [text](JsonWriter& w) {
        Key(w, "content");
        Text(w, text);
      },
      logprobs, std::nullopt);
}

std::string ChatFinishChunk(const ResponseMeta& meta, FinishReason finish_reason, int32_t index, bool tool_calls) {
  return ChatChunk(
      meta, index, [](JsonWriter&) {}, std::nullopt, finish_reason, tool_calls);
}

std::string ChatToolCallChunk(const ResponseMeta& meta, int32_t call_index, std::string_view id, std::string_view name,
                              std::string_view arguments, LogprobTokens logprobs, int32_t index) {
  const std::vector<ToolCallOutput> call{{std::string(id), std::string(name), std::string(arguments)}};
  return ChatChunk(
      meta, index, [&](JsonWriter& w) { ToolCallsArray(w, call, call_index); }, logprobs, std::nullopt);
}

std::string TextChunk(const ResponseMeta& meta, std::string_view text, LogprobTokens logprobs, size_t text_offset,
                      std::optional<FinishReason> finish_reason, int32_t index) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Header(w, meta, "text_completion");
  Key(w, "choices");
  w.StartArray();
  w.StartObject();
  Key(w, "index");
  w.Int(index);
  Key(w, "text");
  Text(w, text);
  TextLogprobs(w, logprobs, text_offset);
  Finish(w, finish_reason);
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

std::string UsageChunk(const ResponseMeta& meta, bool chat, const Usage& usage) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Header(w, meta, chat ? "chat.completion.chunk" : "text_completion");
  Key(w, "choices");
  w.StartArray();
  w.EndArray();
  UsageObject(w, usage);
  w.EndObject();
  return buf.GetString();
}

}  // namespace hearth::daemon
