#include "daemon/durability/durable_params.h"

#include <rapidjson/document.h>

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
