#include "daemon/durability/durable_params.h"

#include <rapidjson/document.h>

#include <limits>
#include <string_view>

#include "common/json_parse.h"
#include "common/json_writer.h"

namespace hearth::daemon {
namespace {

using rapidjson::Value;

// Floats go through double, which rapidjson writes in its shortest exact form.
bool GetFloat(const Value& obj, const char* key, float* out) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsNumber()) return false;
  *out = static_cast<float>(it->value.GetDouble());
  return true;
}

bool GetInt(const Value& obj, const char* key, int64_t* out) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsInt64()) return false;
  *out = it->value.GetInt64();
  return true;
}

bool GetBool(const Value& obj, const char* key, bool* out) {
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsBool()) return false;
  *out = it->value.GetBool();
  return true;
}

void WriteNewerSampling(JsonWriter& w, const SamplingParams& s) {
  w.Key("logit_bias");
  w.StartArray();
  for (const LogitBias& b : s.logit_bias) {
    w.StartArray();
    w.Int(b.token);
    w.Double(b.bias);
    w.EndArray();
  }
  w.EndArray();
  w.Key("min_tokens");
  w.Int(s.min_tokens);
  w.Key("ignore_eos");
  w.Bool(s.ignore_eos);
  w.Key("stop_token_ids");
  w.StartArray();
  for (int32_t id : s.stop_token_ids) w.Int(id);
  w.EndArray();
  if (!s.grammar.empty()) {
    w.Key("grammar");
    w.String(s.grammar.data(), static_cast<rapidjson::SizeType>(s.grammar.size()));
  }
}

// Fields added after the first stored rows: absent means the default (a row stored by an
// earlier version), present must be well formed. Sizes are bounded before anything is kept;
// Validate checks the rest.
bool ReadNewerSampling(const Value& doc, SamplingParams* s) {
  if (auto it = doc.FindMember("logit_bias"); it != doc.MemberEnd()) {
    if (!it->value.IsArray() || it->value.Size() > kMaxLogitBias) return false;
    for (const Value& e : it->value.GetArray()) {
      if (!e.IsArray() || e.Size() != 2 || !e[0].IsInt() || !e[1].IsNumber()) return false;
      s->logit_bias.push_back({e[0].GetInt(), static_cast<float>(e[1].GetDouble())});
    }
  }
  int64_t min_tokens = 0;
  if (doc.HasMember("min_tokens") && !GetInt(doc, "min_tokens", &min_tokens)) return false;
  if (min_tokens < 0 || min_tokens > std::numeric_limits<int32_t>::max()) return false;
  s->min_tokens = static_cast<int32_t>(min_tokens);
  if (doc.HasMember("ignore_eos") && !GetBool(doc, "ignore_eos", &s->ignore_eos)) return false;
  if (auto it = doc.FindMember("stop_token_ids"); it != doc.MemberEnd()) {
    if (!it->value.IsArray() || it->value.Size() > kMaxStopTokenIds) return false;
    for (const Value& id : it->value.GetArray()) {
      if (!id.IsInt()) return false;
      s->stop_token_ids.push_back(id.GetInt());
    }
  }
  if (auto it = doc.FindMember("grammar"); it != doc.MemberEnd()) {
    if (!it->value.IsString() || it->value.GetStringLength() > kMaxGrammarBytes) return false;
    s->grammar.assign(it->value.GetString(), it->value.GetStringLength());
  }
  return true;
}

}  // namespace

std::string EncodeDurableParams(const DurableParams& p) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  const SamplingParams& s = p.gen.sampling;
  w.StartObject();
  w.Key("chat");
  w.Bool(p.chat);
  w.Key("stream");
  w.Bool(p.stream);
  w.Key("logprobs");
  w.Bool(p.logprobs);
  w.Key("include_usage");
  w.Bool(p.include_usage);
  w.Key("created");
  w.Int64(p.created);
  w.Key("max_tokens");
  w.Int(p.gen.max_tokens);
  w.Key("priority");
  w.Int(p.gen.priority);
  w.Key("stop");
  w.StartArray();
  for (const std::string& stop : p.gen.stop) WriteString(w, stop);
  w.EndArray();
  w.Key("temperature");
  w.Double(s.temperature);
  w.Key("top_k");
  w.Int(s.top_k);
  w.Key("top_p");
  w.Double(s.top_p);
  w.Key("min_p");
  w.Double(s.min_p);
  w.Key("repetition_penalty");
  w.Double(s.repetition_penalty);
  w.Key("frequency_penalty");
  w.Double(s.frequency_penalty);
  w.Key("presence_penalty");
  w.Double(s.presence_penalty);
  w.Key("seed");
  w.Uint64(s.seed);
  w.Key("num_logprobs");
  w.Int(s.num_logprobs);
  WriteNewerSampling(w, s);
  if (p.messages) {  // absent on every other request, and on rows written before it existed
    w.Key("api");
    w.String("messages");
  }
  if (!p.tool_format.empty()) {  // likewise
    w.Key("tool_format");
    WriteString(w, p.tool_format);
  }
  w.EndObject();
  return buf.GetString();
}

Status DecodeDurableParams(const std::string& json, DurableParams* p) {
  rapidjson::Document doc;
  const Status bad = Status::Corruption("stored request parameters are not valid: " + json.substr(0, 200));
  if (!ParseJsonObject(json, &doc).ok()) return bad;
  SamplingParams& s = p->gen.sampling;
  int64_t max_tokens = 0, priority = 0, top_k = 0, num_logprobs = 0;
  bool ok = GetBool(doc, "chat", &p->chat) && GetBool(doc, "stream", &p->stream) &&
            GetBool(doc, "logprobs", &p->logprobs) && GetBool(doc, "include_usage", &p->include_usage) &&
            GetInt(doc, "created", &p->created) && GetInt(doc, "max_tokens", &max_tokens) &&
            GetInt(doc, "priority", &priority) && GetFloat(doc, "temperature", &s.temperature) &&
            GetInt(doc, "top_k", &top_k) && GetFloat(doc, "top_p", &s.top_p) && GetFloat(doc, "min_p", &s.min_p) &&
            GetFloat(doc, "repetition_penalty", &s.repetition_penalty) &&
            GetFloat(doc, "frequency_penalty", &s.frequency_penalty) &&
            GetFloat(doc, "presence_penalty", &s.presence_penalty) && GetInt(doc, "num_logprobs", &num_logprobs);
  auto seed = doc.FindMember("seed");
  auto stop = doc.FindMember("stop");
  if (!ok || seed == doc.MemberEnd() || !seed->value.IsUint64() || stop == doc.MemberEnd() || !stop->value.IsArray()) {
    return bad;
  }
  s.logit_bias.clear();
  s.stop_token_ids.clear();
  s.grammar.clear();
  if (!ReadNewerSampling(doc, &s)) return bad;
  p->messages = false;
  if (auto api = doc.FindMember("api"); api != doc.MemberEnd()) {
    if (!api->value.IsString() || std::string_view(api->value.GetString(), api->value.GetStringLength()) != "messages") return bad;
    p->messages = true;
  }
  p->tool_format.clear();
  if (auto tf = doc.FindMember("tool_format"); tf != doc.MemberEnd()) {
    // Bounded: only the short format names are ever written.
    if (!tf->value.IsString() || tf->value.GetStringLength() == 0 || tf->value.GetStringLength() > 32) return bad;
    p->tool_format.assign(tf->value.GetString(), tf->value.GetStringLength());
  }
  s.seed = seed->value.GetUint64();
  s.top_k = static_cast<int32_t>(top_k);
  s.num_logprobs = static_cast<int32_t>(num_logprobs);
  p->gen.max_tokens = static_cast<int32_t>(max_tokens);
  p->gen.priority = static_cast<int32_t>(priority);
  p->gen.stop.clear();
  for (const Value& v : stop->value.GetArray()) {
    if (!v.IsString()) return bad;
    p->gen.stop.emplace_back(v.GetString(), v.GetStringLength());
  }
  // Recovery is where stored parameters enter again: check them here, as the API parse does.
  if (Status valid = s.Validate(); !valid.ok())
    return Status::Corruption("stored sampling parameters are not valid: " + valid.message());
  return Status::Ok();
}

}  // namespace hearth::daemon
