// Request parsing: RapidJSON DOM in, MessagesRequest out. A null field means the same as an
// absent one. Unknown fields are refused: Anthropic's API refuses them too, and a field Hearth
// does not know must not be silently dropped.
#include "daemon/anthropic/messages_request.h"

#include <rapidjson/document.h>

#include <cmath>
#include <limits>

#include "common/json_parse.h"
#include "sampling/stop_matcher.h"
#include "daemon/openai/request_json.h"

namespace hearth::daemon {
namespace {

using rapidjson::Value;
using Error = std::optional<ApiError>;

// At most this many bytes of a client's field name or block type go into an error message.
constexpr size_t kMaxEchoBytes = 64;

std::string Echo(const Value& v) {
  std::string s = JsonStr(v);
  if (s.size() > kMaxEchoBytes) s = s.substr(0, kMaxEchoBytes) + "...";
  return s;
}

std::string Indexed(const std::string& name, size_t i) { return name + "[" + std::to_string(i) + "]"; }

// The body's fields: the ones Hearth serves, and the ones it refuses by name until it can.
constexpr const char* kServed[] = {"model",       "max_tokens", "messages", "system", "stop_sequences",
                                   "temperature", "top_p",      "top_k",    "stream", "metadata"};
constexpr const char* kNotYet[] = {"tools", "tool_choice", "thinking"};

Error CheckFields(const Value& body) {
  for (auto it = body.MemberBegin(); it != body.MemberEnd(); ++it) {
    const std::string name = JsonStr(it->name);
    bool known = false;
    for (const char* served : kServed) known = known || name == served;
    if (known) continue;
    for (const char* refused : kNotYet) {
      if (name == refused && !it->value.IsNull()) {
        return BadParam(name, name + " is not supported by Hearth's Messages API yet");
      }
      known = known || name == refused;
    }
    if (!known) return BadParam(Echo(it->name), "unknown field: " + Echo(it->name));
  }
  return std::nullopt;
}

// An integer in [lo, hi]; integral floating point values (5.0) count as integers.
Error GetInt(const Value& v, const std::string& param, int64_t lo, int64_t hi, int64_t* out) {
  std::string range = "[";
  range.append(std::to_string(lo)).append(", ").append(std::to_string(hi)).append("]");
  if (v.IsInt64()) {
    *out = v.GetInt64();
  } else if (v.IsDouble() && std::isfinite(v.GetDouble()) && v.GetDouble() == std::floor(v.GetDouble()) &&
             std::fabs(v.GetDouble()) < 9e18) {
    *out = static_cast<int64_t>(v.GetDouble());
  } else {
    return BadParam(param, param + " must be an integer in " + range);
  }
  if (*out < lo || *out > hi) return BadParam(param, param + " must be an integer in " + range);
  return std::nullopt;
}

// A number in [lo, hi].
Error GetUnit(const Value& v, const std::string& param, double lo, double hi, float* out) {
  if (!v.IsNumber() || !(v.GetDouble() >= lo && v.GetDouble() <= hi)) {
    std::string range = "[";
    range.append(std::to_string(static_cast<int>(lo))).append(", ").append(std::to_string(static_cast<int>(hi)));
    return BadParam(param, param + " must be a number in " + range + "]");
  }
  *out = static_cast<float>(v.GetDouble());
  return std::nullopt;
}

// A text block: {"type":"text","text":...}, with Anthropic's optional cache_control (a hint:
// Hearth's prefix cache reuses every shared prefix anyway) and empty citations.
Error ParseTextBlock(const Value& block, const std::string& at, std::string* out) {
  for (auto it = block.MemberBegin(); it != block.MemberEnd(); ++it) {
    const std::string name = JsonStr(it->name);
    if (name == "type" || name == "text" || name == "cache_control") continue;
    if (name == "citations" && (it->value.IsNull() || (it->value.IsArray() && it->value.Empty()))) continue;
    return BadParam(at, at + ": text blocks do not take \"" + Echo(it->name) + "\"");
  }
  const Value* text = JsonField(block, "text");
  if (!text || !text->IsString()) return BadParam(at + ".text", at + ".text must be a string");
  out->append(text->GetString(), text->GetStringLength());
  return std::nullopt;
}

// A string, or an array of text blocks (joined as they come). Any other block type is
// refused by name.
Error ParseContent(const Value& v, const std::string& param, std::string* out) {
  if (v.IsString()) {
    *out = JsonStr(v);
    return std::nullopt;
  }
  if (!v.IsArray()) return BadParam(param, param + " must be a string or an array of content blocks");
  for (size_t i = 0; i < v.Size(); ++i) {
    const Value& block = v[static_cast<rapidjson::SizeType>(i)];
    const std::string at = Indexed(param, i);
    if (!block.IsObject()) return BadParam(at, at + " must be an object");
    const Value* type = JsonField(block, "type");
    if (!type || !type->IsString()) return BadParam(at + ".type", at + ".type must be a string");
    if (JsonStr(*type) != "text") {
      return BadParam(at + ".type", at + ": content blocks of type \"" + Echo(*type) +
                                   "\" are not supported; Hearth's Messages API takes text blocks only");
    }
    if (auto e = ParseTextBlock(block, at, out)) return e;
  }
  return std::nullopt;
}

// Turns alternate, user first, as Anthropic's API requires. A final assistant turn is the
// prefill the answer continues.
Error ParseTurns(const Value& body, MessagesRequest* out) {
  const Value* messages = JsonField(body, "messages");
  if (!messages) return BadParam("messages", "messages is required");
  if (!messages->IsArray()) return BadParam("messages", "messages must be an array");
  if (messages->Empty()) return BadParam("messages", "messages must not be empty");
  const size_t num = messages->Size();
  for (size_t i = 0; i < num; ++i) {
    const Value& m = (*messages)[static_cast<rapidjson::SizeType>(i)];
    const std::string at = Indexed("messages", i);
    if (!m.IsObject()) return BadParam(at, at + " must be an object");
    for (auto it = m.MemberBegin(); it != m.MemberEnd(); ++it) {
      const std::string name = JsonStr(it->name);
      if (name != "role" && name != "content") return BadParam(at, at + ": unknown field \"" + Echo(it->name) + "\"");
    }
    const Value* role = JsonField(m, "role");
    if (!role || !role->IsString()) return BadParam(at + ".role", at + ".role must be \"user\" or \"assistant\"");
    model::ChatMessage message;
    message.role = JsonStr(*role);
    if (message.role != "user" && message.role != "assistant") {
      return BadParam(at + ".role", at + ".role must be \"user\" or \"assistant\"");
    }
    const std::string want = i % 2 == 0 ? "user" : "assistant";
    if (message.role != want) {
      return BadParam(at + ".role", at + ".role must be \"" + want +
                                   "\": roles must alternate between user and assistant, starting with user");
    }
    const Value* content = JsonField(m, "content");
    if (!content) return BadParam(at + ".content", at + ".content is required");
    if (auto e = ParseContent(*content, at + ".content", &message.content)) return e;
    const bool prefill = i + 1 == num && message.role == "assistant";
    if (prefill) {
      out->prefill = std::move(message.content);
      continue;
    }
    if (message.content.empty()) return BadParam(at + ".content", at + ".content must not be empty");
    out->request.messages.push_back(std::move(message));
  }
  return std::nullopt;
}

Error ParseSystem(const Value& body, MessagesRequest* out) {
  const Value* system = JsonField(body, "system");
  if (!system) return std::nullopt;
  std::string text;
  if (auto e = ParseContent(*system, "system", &text)) return e;
  if (text.empty()) return std::nullopt;
  out->request.messages.insert(out->request.messages.begin(), model::ChatMessage{"system", std::move(text)});
  return std::nullopt;
}

// The stop matcher's bounds (hearth::, not the OpenAI layer's own).
Error ParseStopSequences(const Value& body, MessagesRequest* out) {
  const Value* stop = JsonField(body, "stop_sequences");
  if (!stop) return std::nullopt;
  if (!stop->IsArray()) return BadParam("stop_sequences", "stop_sequences must be an array of strings");
  if (stop->Size() > hearth::kMaxStopStrings) {
    return BadParam("stop_sequences",
               "stop_sequences may hold at most " + std::to_string(hearth::kMaxStopStrings) + " strings");
  }
  for (const Value& s : stop->GetArray()) {
    if (!s.IsString()) return BadParam("stop_sequences", "stop_sequences must be an array of strings");
    if (s.GetStringLength() == 0) return BadParam("stop_sequences", "stop_sequences must not hold empty strings");
    if (s.GetStringLength() > kMaxStopStringBytes) {
      return BadParam("stop_sequences",
                 "stop_sequences strings may be at most " + std::to_string(kMaxStopStringBytes) + " bytes");
    }
    out->stop_sequences.push_back(JsonStr(s));
  }
  out->request.stop = out->stop_sequences;
  return std::nullopt;
}

// Anthropic's ranges: temperature and top_p in [0, 1], top_k a non-negative integer (0: off).
Error ParseSampling(const Value& body, MessagesRequest* out) {
  SamplingParams& s = out->request.sampling;
  if (const Value* v = JsonField(body, "temperature")) {
    if (auto e = GetUnit(*v, "temperature", 0, 1, &s.temperature)) return e;
  }
  if (const Value* v = JsonField(body, "top_p")) {
    if (auto e = GetUnit(*v, "top_p", 0, 1, &s.top_p)) return e;
    if (s.top_p == 0) return BadParam("top_p", "top_p must be greater than 0");
  }
  if (const Value* v = JsonField(body, "top_k")) {
    int64_t k = 0;
    if (auto e = GetInt(*v, "top_k", 0, std::numeric_limits<int32_t>::max(), &k)) return e;
    s.top_k = static_cast<int32_t>(k);
  }
  Status st = s.Validate();
  if (!st.ok()) return BadParam(st.message().substr(0, st.message().find(' ')), st.message());
  return std::nullopt;
}

// metadata: {"user_id": string or null}; Hearth keeps no per-user state, so user_id is read
// and not used.
Error ParseMetadata(const Value& body) {
  const Value* metadata = JsonField(body, "metadata");
  if (!metadata) return std::nullopt;
  if (!metadata->IsObject()) return BadParam("metadata", "metadata must be an object");
  for (auto it = metadata->MemberBegin(); it != metadata->MemberEnd(); ++it) {
    if (JsonStr(it->name) != "user_id") {
      return BadParam("metadata", "metadata: unknown field \"" + Echo(it->name) + "\"");
    }
    if (!it->value.IsNull() && !it->value.IsString()) {
      return BadParam("metadata.user_id", "metadata.user_id must be a string");
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> ParseMessagesRequest(std::string_view body, MessagesRequest* out) {
  *out = MessagesRequest{};
  out->request.endpoint = ApiEndpoint::kChatCompletions;
  rapidjson::Document doc;
  const JsonParse parsed = ParseJson(body, &doc);
  if (!parsed.ok()) return BadParam("", "the request body is " + parsed.message);
  if (!doc.IsObject()) return BadParam("", "the request body must be a JSON object");
  if (auto e = CheckFields(doc)) return e;

  const Value* model = JsonField(doc, "model");
  if (!model) return BadParam("model", "model is required");
  if (!model->IsString() || model->GetStringLength() == 0) return BadParam("model", "model must be a non-empty string");
  out->request.model = JsonStr(*model);

  const Value* max_tokens = JsonField(doc, "max_tokens");
  if (!max_tokens) return BadParam("max_tokens", "max_tokens is required");
  int64_t n = 0;
  if (auto e = GetInt(*max_tokens, "max_tokens", 1, std::numeric_limits<int32_t>::max(), &n)) return e;
  out->request.max_tokens = static_cast<int32_t>(n);

  if (auto e = ParseTurns(doc, out)) return e;
  if (auto e = ParseSystem(doc, out)) return e;
  if (auto e = ParseStopSequences(doc, out)) return e;
  if (auto e = ParseSampling(doc, out)) return e;
  if (auto e = ParseMetadata(doc)) return e;
  if (const Value* v = JsonField(doc, "stream")) {
    if (!v->IsBool()) return BadParam("stream", "stream must be a boolean");
    out->request.stream = v->GetBool();
  }
  return std::nullopt;
}

}  // namespace hearth::daemon
