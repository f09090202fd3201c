// /tokenize and /detokenize bodies; see tokenize_request.h.
#include "daemon/openai/tokenize_request.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <limits>

#include "common/json_parse.h"
#include "common/json_writer.h"
#include "daemon/openai/request_json.h"

namespace hearth::daemon {
namespace {

using rapidjson::Value;
using Error = std::optional<ApiError>;

// The body as an object whose every field is one of `known`.
Error ParseObject(std::string_view body, std::initializer_list<std::string_view> known, rapidjson::Document* doc) {
  const JsonParse parsed = ParseJson(body, doc);
  if (!parsed.ok()) return BadParam("", "the request body is " + parsed.message);
  if (!doc->IsObject()) return BadParam("", "the request body must be a JSON object");
  for (auto it = doc->MemberBegin(); it != doc->MemberEnd(); ++it) {
    const std::string_view name(it->name.GetString(), it->name.GetStringLength());
    bool found = false;
    for (std::string_view k : known) found = found || k == name;
    if (!found) return BadParam(std::string(name), "Unrecognized request argument supplied: " + std::string(name));
  }
  return std::nullopt;
}

Error ParseModel(const Value& doc, std::string* out) {
  const Value* model = JsonField(doc, "model");
  if (!model) return BadParam("model", "model is required");
  if (!model->IsString() || model->GetStringLength() == 0) return BadParam("model", "model must be a non-empty string");
  out->assign(model->GetString(), model->GetStringLength());
  return std::nullopt;
}

// The messages as /v1/chat/completions parses them: a body of just model and messages.
Error ParseMessagesAsChat(const Value& doc, ApiRequest* out) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  for (const char* key : {"model", "messages"}) {
    w.Key(key);
    doc[key].Accept(w);
  }
  w.EndObject();
  return ParseApiRequest(ApiEndpoint::kChatCompletions, std::string_view(buf.GetString(), buf.GetSize()), out);
}

}  // namespace

std::optional<ApiError> ParseTokenizeRequest(std::string_view body, TokenizeRequest* out) {
  *out = TokenizeRequest{};
  rapidjson::Document doc;
  if (auto e =
          ParseObject(body, {"model", "prompt", "messages", "add_special_tokens", "add_generation_prompt"}, &doc)) {
    return e;
  }
  std::string model;
  if (auto e = ParseModel(doc, &model)) return e;
  const Value* prompt = JsonField(doc, "prompt");
  const Value* messages = JsonField(doc, "messages");
  if ((prompt == nullptr) == (messages == nullptr)) return BadParam("prompt", "give either prompt or messages");
  const Value* special = JsonField(doc, "add_special_tokens");
  const Value* generation = JsonField(doc, "add_generation_prompt");
  if (special && !special->IsBool()) return BadParam("add_special_tokens", "add_special_tokens must be a boolean");
  if (generation && !(generation->IsBool() && generation->GetBool())) {
    return BadParam("add_generation_prompt", "add_generation_prompt=false is not supported");
  }
  if (messages) {
    // The template writes the special tokens it wants; generation adds none on top.
    if (special) return BadParam("add_special_tokens", "add_special_tokens applies to prompt, not messages");
    return ParseMessagesAsChat(doc, &out->prompt);
  }
  if (generation) return BadParam("add_generation_prompt", "add_generation_prompt applies to messages, not prompt");
  if (!prompt->IsString()) return BadParam("prompt", "prompt must be a string");
  out->prompt.endpoint = ApiEndpoint::kCompletions;
  out->prompt.model = std::move(model);
  out->prompt.prompt_text.assign(prompt->GetString(), prompt->GetStringLength());
  out->add_special_tokens = special ? special->GetBool() : true;
  return std::nullopt;
}

std::optional<ApiError> ParseDetokenizeRequest(std::string_view body, DetokenizeRequest* out) {
  *out = DetokenizeRequest{};
  rapidjson::Document doc;
  if (auto e = ParseObject(body, {"model", "tokens"}, &doc)) return e;
  if (auto e = ParseModel(doc, &out->model)) return e;
  const Value* tokens = JsonField(doc, "tokens");
  if (!tokens) return BadParam("tokens", "tokens is required");
  if (!tokens->IsArray()) return BadParam("tokens", "tokens must be an array of token ids");
  out->tokens.reserve(tokens->Size());
  for (const Value& t : tokens->GetArray()) {
    if (!t.IsInt()) return BadParam("tokens", "tokens must be non-negative integer token ids");
    if (t.GetInt() < 0) return BadParam("tokens", "tokens must be non-negative integer token ids");
    out->tokens.push_back(t.GetInt());
  }
  return std::nullopt;
}

std::optional<ApiError> CheckTokenCount(size_t count, int32_t max_model_len, const char* param) {
  if (max_model_len <= 0 || count <= static_cast<size_t>(max_model_len)) return std::nullopt;
  ApiError e =
      BadParam(param, std::string(param) + " holds " + std::to_string(count) +
                     " tokens, more than this model's maximum context length of " + std::to_string(max_model_len));
  e.code = "context_length_exceeded";
  return e;
}

std::string TokenizeResponseJson(const std::vector<int32_t>& tokens, int32_t max_model_len) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("tokens");
  w.StartArray();
  for (int32_t t : tokens) w.Int(t);
  w.EndArray();
  w.Key("count");
  w.Uint64(tokens.size());
  w.Key("max_model_len");
  w.Int(max_model_len);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string DetokenizeResponseJson(std::string_view text) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("prompt");
  WriteString(w, std::string(text));
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace hearth::daemon
