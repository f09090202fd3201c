// Request parsing: RapidJSON DOM in, ApiRequest out. A null field means the same as an absent
// one (OpenAI's SDKs send explicit nulls); which fields exist at all is request_fields.h's table.
#include "daemon/openai/openai_request.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>

#include "common/json_parse.h"
#include "daemon/openai/request_fields.h"
#include "daemon/openai/response_format.h"
#include "daemon/openai/tool_request.h"
#include "sampling/stop_matcher.h"
#include "daemon/openai/request_json.h"

namespace hearth::daemon {
namespace {

using rapidjson::Value;
using Error = std::optional<ApiError>;

// An integer in [lo, hi]; integral floating point values (5.0) count as integers.
Error GetInt(const Value& v, const std::string& param, int64_t lo, int64_t hi, int64_t* out) {
  // Built with append: GCC 12 warns (-Wrestrict, falsely) on "[" + std::to_string(...).
  std::string range = "[";
  range.append(std::to_string(lo)).append(", ").append(std::to_string(hi)).append("]");
  if (v.IsInt64()) {
    *out = v.GetInt64();
  } else if (v.IsUint64()) {
    return BadParam(param, param + " must be an integer in " + range);
  } else if (v.IsDouble()) {
    const double d = v.GetDouble();
    // The 9e18 bound keeps the cast below defined whatever lo and hi are.
    if (d != std::floor(d) || !(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || std::fabs(d) > 9e18) {
      return BadParam(param, param + " must be an integer in " + range);
    }
    *out = static_cast<int64_t>(d);
  } else {
    return BadParam(param, param + " must be an integer");
  }
  if (*out < lo || *out > hi) return BadParam(param, param + " must be an integer in " + range);
  return std::nullopt;
}

// A number, as float; magnitudes past float's range become infinities, which the range
// checks reject.
Error GetFloat(const Value& v, const std::string& param, float* out) {
  if (!v.IsNumber()) return BadParam(param, param + " must be a number");
  const double d = v.GetDouble();
  *out = std::fabs(d) > FLT_MAX ? std::copysign(HUGE_VALF, static_cast<float>(d >= 0 ? 1 : -1)) : static_cast<float>(d);
  return std::nullopt;
}

Error GetBool(const Value& v, const std::string& param, bool* out) {
  if (!v.IsBool()) return BadParam(param, param + " must be a boolean");
  *out = v.GetBool();
  return std::nullopt;
}

std::string Indexed(const char* name, size_t i) { return std::string(name) + "[" + std::to_string(i) + "]"; }

Error ParseContent(const Value& v, const std::string& param, std::string* out) {
  if (v.IsString()) {
    *out = JsonStr(v);
    return std::nullopt;
  }
  if (!v.IsArray()) return BadParam(param, param + " must be a string or an array of text parts");
  for (const Value& part : v.GetArray()) {
    if (!part.IsObject()) return BadParam(param, param + " parts must be objects");
    const Value* type = JsonField(part, "type");
    if (!type || !type->IsString() || JsonStr(*type) != "text") {
      return BadParam(param, param + ": only parts of type \"text\" are supported");
    }
    const Value* text = JsonField(part, "text");
    if (!text || !text->IsString()) return BadParam(param, param + ": a text part needs a string \"text\"");
    out->append(text->GetString(), text->GetStringLength());
  }
  return std::nullopt;
}

Error ParseMessages(const Value& body, ApiRequest* out) {
  const Value* messages = JsonField(body, "messages");
  if (!messages) return BadParam("messages", "messages is required");
  if (!messages->IsArray()) return BadParam("messages", "messages must be an array");
  if (messages->Empty()) return BadParam("messages", "messages must not be empty");
  for (size_t i = 0; i < messages->Size(); ++i) {
    const Value& m = (*messages)[static_cast<rapidjson::SizeType>(i)];
    const std::string at = Indexed("messages", i);
    if (!m.IsObject()) return BadParam(at, at + " must be an object");
    const Value* role = JsonField(m, "role");
    if (!role) return BadParam(at + ".role", at + ".role is required");
    if (!role->IsString()) return BadParam(at + ".role", at + ".role must be a string");
    model::ChatMessage message;
    message.role = JsonStr(*role);
    if (message.role == "developer") message.role = "system";  // OpenAI's newer name
    if (message.role != "system" && message.role != "user" && message.role != "assistant" && message.role != "tool") {
      return BadParam(at + ".role", at + ".role must be one of system, user, assistant, tool");
    }
    if (auto e = ParseMessageToolFields(m, at, &message)) return e;
    const Value* content = JsonField(m, "content");
    // An assistant turn that only calls tools has no content.
    if (!content && message.tool_calls_json.empty()) return BadParam(at + ".content", at + ".content is required");
    if (content) {
      if (auto e = ParseContent(*content, at + ".content", &message.content)) return e;
    }
    out->messages.push_back(std::move(message));
  }
  return std::nullopt;
}

Error ParseTokenIds(const Value& v, ApiRequest* out) {
  if (v.Empty()) return BadParam("prompt", "prompt must not be empty");
  for (const Value& id : v.GetArray()) {
    int64_t token = 0;
    if (!id.IsNumber() || GetInt(id, "prompt", 0, std::numeric_limits<int32_t>::max(), &token)) {
      return BadParam("prompt", "prompt token ids must be non-negative integers");
    }
    out->prompt_tokens.push_back(static_cast<int32_t>(token));
  }
  out->prompt_is_tokens = true;
  return std::nullopt;
}

// A string, an array of token ids, or a batch of exactly one of those.
Error ParsePrompt(const Value& body, ApiRequest* out) {
  const Value* prompt = JsonField(body, "prompt");
  if (!prompt) return BadParam("prompt", "prompt is required");
  if (prompt->IsString()) {
    out->prompt_text = JsonStr(*prompt);
    return std::nullopt;
  }
  if (!prompt->IsArray()) return BadParam("prompt", "prompt must be a string or an array of token ids");
  if (prompt->Empty()) return BadParam("prompt", "prompt must not be empty");
  const Value& first = (*prompt)[0];
  if (first.IsString() || first.IsArray()) {
    if (prompt->Size() != 1) {
      return BadParam("prompt", "batched prompts are not supported: send one prompt per request");
    }
    if (first.IsString()) {
      out->prompt_text = JsonStr(first);
      return std::nullopt;
    }
    return ParseTokenIds(first, out);
  }
  return ParseTokenIds(*prompt, out);
}

Error ParseStop(const Value& body, ApiRequest* out) {
  const Value* stop = JsonField(body, "stop");
  if (!stop) return std::nullopt;
  auto add = [&](const Value& s) -> Error {
    if (!s.IsString()) return BadParam("stop", "stop must be a string or an array of strings");
    if (s.GetStringLength() == 0) return BadParam("stop", "stop strings must not be empty");
    if (s.GetStringLength() > kMaxStopStringBytes) {
      return BadParam("stop", "stop strings may be at most " + std::to_string(kMaxStopStringBytes) + " bytes");
    }
    out->stop.push_back(JsonStr(s));
    return std::nullopt;
  };
  if (stop->IsString()) return add(*stop);
  if (!stop->IsArray()) return BadParam("stop", "stop must be a string or an array of strings");
  if (stop->Size() > kMaxStopStrings) {
    return BadParam("stop", "stop may hold at most " + std::to_string(kMaxStopStrings) + " strings");
  }
  for (const Value& s : stop->GetArray()) {
    if (auto e = add(s)) return e;
  }
  return std::nullopt;
}

Error ParseMaxTokens(const Value& body, ApiRequest* out) {
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    const Value* v = JsonField(body, name);
    if (!v) continue;
    int64_t n = 0;
    if (auto e = GetInt(*v, name, 1, std::numeric_limits<int32_t>::max(), &n)) return e;
    out->max_tokens = static_cast<int32_t>(n);  // max_completion_tokens, read last, wins
  }
  return std::nullopt;
}

// The float knobs, then SamplingParams::Validate for their ranges (its messages start with
// the field's name, which becomes `param`).
Error ParseSampling(const Value& body, ApiRequest* out) {
  SamplingParams& s = out->sampling;
  const std::pair<const char*, float*> floats[] = {{"temperature", &s.temperature},
                                                   {"top_p", &s.top_p},
                                                   {"min_p", &s.min_p},
                                                   {"presence_penalty", &s.presence_penalty},
                                                   {"frequency_penalty", &s.frequency_penalty},
                                                   {"repetition_penalty", &s.repetition_penalty}};
  for (const auto& [name, dst] : floats) {
    if (const Value* v = JsonField(body, name)) {
      if (auto e = GetFloat(*v, name, dst)) return e;
    }
  }
  if (const Value* v = JsonField(body, "top_k")) {
    int64_t k = 0;
    if (auto e = GetInt(*v, "top_k", -1, std::numeric_limits<int32_t>::max(), &k)) return e;
    s.top_k = k < 0 ? 0 : static_cast<int32_t>(k);  // -1 is vLLM's "off"
  }
  if (const Value* v = JsonField(body, "seed")) {
    int64_t seed = 0;
    if (v->IsUint64()) {
      out->seed = v->GetUint64();
    } else if (auto e = GetInt(*v, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                               &seed)) {
      return e;
    } else {
      out->seed = static_cast<uint64_t>(seed);
    }
  }
  Status st = s.Validate();
  if (!st.ok()) {
    const std::string& m = st.message();
    return BadParam(m.substr(0, m.find(' ')), m);
  }
  return std::nullopt;
}

Error ParseLogprobs(const Value& body, ApiRequest* out) {
  const Value* logprobs = JsonField(body, "logprobs");
  const Value* top = JsonField(body, "top_logprobs");
  if (out->endpoint == ApiEndpoint::kCompletions) {
    if (logprobs) {
      int64_t n = 0;
      if (auto e = GetInt(*logprobs, "logprobs", 0, kMaxCompletionLogprobs, &n)) return e;
      out->logprobs = true;
      out->sampling.num_logprobs = static_cast<int32_t>(n);
    }
    return std::nullopt;
  }
  if (logprobs) {
    if (auto e = GetBool(*logprobs, "logprobs", &out->logprobs)) return e;
  }
  if (top) {
    int64_t n = 0;
    if (auto e = GetInt(*top, "top_logprobs", 0, kMaxLogprobs, &n)) return e;
    if (!out->logprobs) return BadParam("top_logprobs", "top_logprobs requires logprobs to be true");
    out->sampling.num_logprobs = static_cast<int32_t>(n);
  }
  return std::nullopt;
}

Error ParseStreaming(const Value& body, ApiRequest* out) {
  if (const Value* v = JsonField(body, "stream")) {
    if (auto e = GetBool(*v, "stream", &out->stream)) return e;
  }
  if (const Value* options = JsonField(body, "stream_options")) {
    if (!options->IsObject()) return BadParam("stream_options", "stream_options must be an object");
    if (!out->stream) {
      return BadParam("stream_options", "stream_options is only allowed when stream is true");
    }
    if (const Value* v = JsonField(*options, "include_usage")) {
      if (auto e = GetBool(*v, "stream_options.include_usage", &out->include_usage)) return e;
    }
  }
  return std::nullopt;
}

Error ParseChoices(const Value& body, ApiRequest* out) {
  if (const Value* v = JsonField(body, "n")) {
    int64_t n = 0;
    if (auto e = GetInt(*v, "n", 1, kMaxChoices, &n)) return e;
    out->n = static_cast<int32_t>(n);
  }
  return std::nullopt;
}

// A logit_bias key: a token id written in decimal, as OpenAI's SDKs send it.
bool ParseTokenKey(std::string_view key, int32_t* out) {
  if (key.empty() || key.size() > 10 || key.find_first_not_of("0123456789") != std::string_view::npos) return false;
  const int64_t id = std::stoll(std::string(key));
  if (id > std::numeric_limits<int32_t>::max()) return false;
  *out = static_cast<int32_t>(id);
  return true;
}

Error ParseLogitBias(const Value& body, ApiRequest* out) {
  const Value* v = JsonField(body, "logit_bias");
  if (!v) return std::nullopt;
  if (!v->IsObject()) return BadParam("logit_bias", "logit_bias must be an object mapping token ids to biases");
  if (v->MemberCount() > kMaxLogitBias) {
    return BadParam("logit_bias", "logit_bias may hold at most " + std::to_string(kMaxLogitBias) + " entries");
  }
  std::vector<LogitBias>& biases = out->sampling.logit_bias;
  for (auto it = v->MemberBegin(); it != v->MemberEnd(); ++it) {
    const std::string key = JsonStr(it->name);
    LogitBias b;
    if (!ParseTokenKey(key, &b.token)) {
      return BadParam("logit_bias", "logit_bias keys must be token ids (non-negative integers); got \"" + key.substr(0, 32) +
                                   "\"");
    }
    if (auto e = GetFloat(it->value, "logit_bias", &b.bias)) return e;
    biases.push_back(b);
  }
  std::sort(biases.begin(), biases.end(), [](const LogitBias& a, const LogitBias& b) { return a.token < b.token; });
  for (size_t i = 1; i < biases.size(); ++i) {
    if (biases[i].token == biases[i - 1].token) {
      return BadParam("logit_bias", "logit_bias gives token " + std::to_string(biases[i].token) + " twice");
    }
  }
  return std::nullopt;  // ranges: SamplingParams::Validate
}

// vLLM's extensions that decide where generation ends.
Error ParseEndControls(const Value& body, ApiRequest* out) {
  SamplingParams& s = out->sampling;
  if (const Value* v = JsonField(body, "min_tokens")) {
    int64_t n = 0;
    if (auto e = GetInt(*v, "min_tokens", 0, std::numeric_limits<int32_t>::max(), &n)) return e;
    s.min_tokens = static_cast<int32_t>(n);
  }
  if (const Value* v = JsonField(body, "ignore_eos")) {
    if (auto e = GetBool(*v, "ignore_eos", &s.ignore_eos)) return e;
  }
  if (const Value* v = JsonField(body, "stop_token_ids")) {
    if (!v->IsArray()) return BadParam("stop_token_ids", "stop_token_ids must be an array of token ids");
    if (v->Size() > kMaxStopTokenIds) {
      return BadParam("stop_token_ids", "stop_token_ids may hold at most " + std::to_string(kMaxStopTokenIds) + " ids");
    }
    for (const Value& id : v->GetArray()) {
      int64_t token = 0;
      if (auto e = GetInt(id, "stop_token_ids", 0, std::numeric_limits<int32_t>::max(), &token)) return e;
      s.stop_token_ids.push_back(static_cast<int32_t>(token));
    }
  }
  return std::nullopt;
}

// vLLM's rule: min_tokens may not exceed max_tokens (given, or what the context leaves).
Error CheckMinTokens(const ApiRequest& request, int32_t max_tokens) {
  if (request.sampling.min_tokens <= max_tokens) return std::nullopt;
  return BadParam("min_tokens", "min_tokens (" + std::to_string(request.sampling.min_tokens) +
                               ") must be at most max_tokens (" + std::to_string(max_tokens) + ")");
}

}  // namespace

ApiError ModelNotFound(const std::string& model) {
  return ApiError{404, "The model '" + model + "' does not exist", "invalid_request_error", "model", "model_not_found"};
}

std::optional<ApiError> ParseApiRequest(ApiEndpoint endpoint, std::string_view body, ApiRequest* out) {
  *out = ApiRequest{};
  out->endpoint = endpoint;
  rapidjson::Document doc;
  const JsonParse parsed = ParseJson(body, &doc);
  if (!parsed.ok()) return BadParam("", "the request body is " + parsed.message);
  if (!doc.IsObject()) return BadParam("", "the request body must be a JSON object");

  if (auto e = CheckRequestFields(endpoint, doc)) return e;

  const Value* model = JsonField(doc, "model");
  if (!model) return BadParam("model", "model is required");
  if (!model->IsString() || model->GetStringLength() == 0) {
    return BadParam("model", "model must be a non-empty string");
  }
  out->model = JsonStr(*model);

  Error e = endpoint == ApiEndpoint::kChatCompletions ? ParseMessages(doc, out) : ParsePrompt(doc, out);
  if (e) return e;
  if ((e = ParseMaxTokens(doc, out))) return e;
  if ((e = ParseStop(doc, out))) return e;
  // Before ParseSampling, whose Validate checks what they set.
  if ((e = ParseLogprobs(doc, out))) return e;
  if ((e = ParseLogitBias(doc, out))) return e;
  if ((e = ParseEndControls(doc, out))) return e;
  if ((e = ParseSampling(doc, out))) return e;
  if ((e = ParseResponseFormat(doc, &out->sampling.grammar))) return e;
  if (endpoint == ApiEndpoint::kChatCompletions) {
    if ((e = ParseToolRequest(doc, &out->tools))) return e;
    if (out->tools.forced()) {
      if (!out->sampling.grammar.empty()) {
        return BadParam("tool_choice", "a forced tool_choice cannot be combined with response_format or grammar");
      }
      out->sampling.grammar = out->tools.grammar;
    }
  }
  if ((e = ParseStreaming(doc, out))) return e;
  return ParseChoices(doc, out);
}

std::optional<ApiError> CheckPromptTokens(const ApiRequest& request, int32_t vocab_size) {
  for (int32_t id : request.prompt_tokens) {
    if (id >= vocab_size) {
      return BadParam("prompt", "prompt token id " + std::to_string(id) + " is outside the vocabulary (size " +
                               std::to_string(vocab_size) + ")");
    }
  }
  return std::nullopt;
}

std::optional<ApiError> CheckTokenFields(const ApiRequest& request, int32_t vocab_size) {
  for (const LogitBias& b : request.sampling.logit_bias) {
    if (b.token >= vocab_size) {
      return BadParam("logit_bias", "logit_bias token id " + std::to_string(b.token) + " is outside the vocabulary (size " +
                                   std::to_string(vocab_size) + ")");
    }
  }
  for (int32_t id : request.sampling.stop_token_ids) {
    if (id >= vocab_size) {
      return BadParam("stop_token_ids", "stop_token_ids id " + std::to_string(id) + " is outside the vocabulary (size " +
                                       std::to_string(vocab_size) + ")");
    }
  }
  return std::nullopt;
}

std::optional<ApiError> FitToContext(const ApiRequest& request, size_t num_prompt_tokens, int32_t context_length,
                                     int32_t* max_tokens) {
  const char* prompt_param = request.endpoint == ApiEndpoint::kChatCompletions ? "messages" : "prompt";
  if (num_prompt_tokens == 0) return BadParam(prompt_param, "the prompt is empty after tokenization");
  if (context_length <= 0) {
    *max_tokens = request.max_tokens.value_or(kDefaultMaxTokensWithoutContext);
    return CheckMinTokens(request, *max_tokens);
  }
  const int64_t room = static_cast<int64_t>(context_length) - static_cast<int64_t>(num_prompt_tokens);
  const int64_t wanted = request.max_tokens.value_or(1);
  if (room < wanted) {
    ApiError e = BadParam(request.max_tokens ? "max_tokens" : prompt_param,
                     "This model's maximum context length is " + std::to_string(context_length) +
                         " tokens; the prompt has " + std::to_string(num_prompt_tokens) + " tokens and " +
                         std::to_string(wanted) + " more were requested for the completion");
    e.code = "context_length_exceeded";
    return e;
  }
  *max_tokens = request.max_tokens ? *request.max_tokens : static_cast<int32_t>(room);
  return CheckMinTokens(request, *max_tokens);
}

}  // namespace hearth::daemon
