// Response JSON, written with RapidJSON's Writer.
#include "daemon/openai_response.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>

#include "model/unicode.h"

namespace hearth::daemon {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void Text(JsonWriter& w, std::string_view s) {
  const std::string valid = model::SanitizeUtf8(s);
  w.String(valid.c_str(), static_cast<rapidjson::SizeType>(valid.size()));
}

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
  w.EndObject();
}

void FinishReason(JsonWriter& w, std::string_view reason) {
  Key(w, "finish_reason");
  if (reason.empty()) {
    w.Null();
  } else {
    w.String(reason.data(), static_cast<rapidjson::SizeType>(reason.size()));
  }
}

// Chat format: {"content": [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]}.
void ChatLogprobs(JsonWriter& w, const std::vector<LogprobEntry>* entries) {
  Key(w, "logprobs");
  if (!entries) {
    w.Null();
    return;
  }
  w.StartObject();
  Key(w, "content");
  w.StartArray();
  for (const LogprobEntry& e : *entries) {
    w.StartObject();
    Key(w, "token");
    Text(w, e.token);
    Key(w, "logprob");
    Logprob(w, e.logprob);
    Key(w, "bytes");
    Bytes(w, e.token);
    Key(w, "top_logprobs");
    w.StartArray();
    for (const TokenLogprobText& t : e.top) {
      w.StartObject();
      Key(w, "token");
      Text(w, t.text);
      Key(w, "logprob");
      Logprob(w, t.logprob);
      Key(w, "bytes");
      Bytes(w, t.text);
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
void TextLogprobs(JsonWriter& w, const std::vector<LogprobEntry>* entries, size_t text_offset) {
  Key(w, "logprobs");
  if (!entries) {
    w.Null();
    return;
  }
  w.StartObject();
  Key(w, "tokens");
  w.StartArray();
  for (const LogprobEntry& e : *entries) Text(w, e.token);
  w.EndArray();
  Key(w, "token_logprobs");
  w.StartArray();
  for (const LogprobEntry& e : *entries) Logprob(w, e.logprob);
  w.EndArray();
  Key(w, "top_logprobs");
  w.StartArray();
  for (const LogprobEntry& e : *entries) {
    w.StartObject();
    for (const TokenLogprobText& t : e.top) {
      Text(w, t.text);  // as a key
      Logprob(w, t.logprob);
    }
    w.EndObject();
  }
  w.EndArray();
  Key(w, "text_offset");
  w.StartArray();
  for (const LogprobEntry& e : *entries) {
    w.Uint64(text_offset);
    text_offset += e.token.size();
  }
  w.EndArray();
  w.EndObject();
}

}  // namespace

std::string ModelObjectJson(std::string_view id, int64_t created) {
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
  if (!choices.empty()) usage.prompt_tokens = choices[0].usage.prompt_tokens;
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
    Text(w, output.text);
    w.EndObject();
    ChatLogprobs(w, output.logprobs ? &output.tokens : nullptr);
    FinishReason(w, output.finish_reason);
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
    TextLogprobs(w, output.logprobs ? &output.tokens : nullptr, 0);
    FinishReason(w, output.finish_reason);
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
std::string ChatChunk(const ResponseMeta& meta, int32_t index, DeltaFn delta, const std::vector<LogprobEntry>* logprobs,
                      std::string_view finish_reason) {
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
  FinishReason(w, finish_reason);
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
      nullptr, "");
}

std::string ChatContentChunk(const ResponseMeta& meta, std::string_view text, const std::vector<LogprobEntry>* logprobs,
                             int32_t index) {
  return ChatChunk(
      meta, index,
      [text](JsonWriter& w) {
        Key(w, "content");
        Text(w, text);
      },
      logprobs, "");
}

std::string ChatFinishChunk(const ResponseMeta& meta, std::string_view finish_reason, int32_t index) {
  return ChatChunk(
      meta, index, [](JsonWriter&) {}, nullptr, finish_reason);
}

std::string TextChunk(const ResponseMeta& meta, std::string_view text, const std::vector<LogprobEntry>* logprobs,
                      size_t text_offset, std::string_view finish_reason, int32_t index) {
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
  FinishReason(w, finish_reason);
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
