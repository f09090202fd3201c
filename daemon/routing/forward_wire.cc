#include "daemon/routing/forward_wire.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "cluster/node_record.h"
#include "common/json_parse.h"
#include "common/json_writer.h"
#include "sampling/stop_matcher.h"

namespace hearth::daemon {
namespace {

constexpr size_t kMaxTokens = size_t{1} << 21;  // prompt and committed, each
constexpr size_t kMaxName = 256;
constexpr size_t kMaxErrorBytes = 4096;
constexpr int32_t kMaxTokenId = (1 << 24) - 1;

Status Bad(const std::string& what) { return Status::InvalidArgument("forwarded request: " + what); }
Status BadFrame(const std::string& what) { return Status::InvalidArgument("forwarded frame: " + what); }

std::string Quoted(const char* key) { return std::string("\"") + key + "\""; }

StatusOr<const rapidjson::Value*> Member(const rapidjson::Value& o, const char* key) {
  auto it = o.FindMember(key);
  if (it == o.MemberEnd()) return Bad("no " + Quoted(key));
  return &it->value;
}

StatusOr<int64_t> Int(const rapidjson::Value& o, const char* key, int64_t lo, int64_t hi) {
  HEARTH_ASSIGN_OR_RETURN(const rapidjson::Value* v, Member(o, key));
  if (!v->IsInt64() || v->GetInt64() < lo || v->GetInt64() > hi) return Bad(Quoted(key) + " is out of bounds");
  return v->GetInt64();
}

StatusOr<float> Float(const rapidjson::Value& o, const char* key) {
  HEARTH_ASSIGN_OR_RETURN(const rapidjson::Value* v, Member(o, key));
  if (!v->IsNumber() || !std::isfinite(v->GetDouble()) || std::fabs(v->GetDouble()) > 1e30) {
    return Bad(Quoted(key) + " is not a finite number");
  }
  return static_cast<float>(v->GetDouble());
}

StatusOr<std::string> Text(const rapidjson::Value& o, const char* key, size_t max) {
  HEARTH_ASSIGN_OR_RETURN(const rapidjson::Value* v, Member(o, key));
  if (!v->IsString() || v->GetStringLength() > max) return Bad(Quoted(key) + " is not a string of at most " +
                                                              std::to_string(max) + " bytes");
  return std::string(v->GetString(), v->GetStringLength());
}

Status TokenIds(const rapidjson::Value& o, const char* key, std::vector<int32_t>* out) {
  HEARTH_ASSIGN_OR_RETURN(const rapidjson::Value* v, Member(o, key));
  if (!v->IsArray() || v->Size() > kMaxTokens) return Bad(Quoted(key) + " is not an array of token ids");
  out->reserve(v->Size());
  for (const rapidjson::Value& t : v->GetArray()) {
    if (!t.IsInt() || t.GetInt() < 0 || t.GetInt() > kMaxTokenId) return Bad(Quoted(key) + " holds a bad token id");
    out->push_back(t.GetInt());
  }
  return Status::Ok();
}

// A logprob as JSON can carry it: -inf (a token the sampler had ruled out) as the lowest float.
double WireLogprob(float lp) { return std::isfinite(lp) ? lp : -3.0e38; }

void WriteIds(JsonWriter& w, const char* key, const std::vector<int32_t>& ids) {
  w.Key(key);
  w.StartArray();
  for (int32_t id : ids) w.Int(id);
  w.EndArray();
}

// A Status with `code` (never kOk) and `message`.
Status MakeStatus(Status::Code code, const std::string& message) {
  switch (code) {
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(message);
    case Status::Code::kNotFound:
      return Status::NotFound(message);
    case Status::Code::kCorruption:
      return Status::Corruption(message);
    case Status::Code::kIOError:
      return Status::IOError(message);
    case Status::Code::kUnimplemented:
      return Status::Unimplemented(message);
    case Status::Code::kResourceExhausted:
      return Status::ResourceExhausted(message);
    case Status::Code::kUnavailable:
      return Status::Unavailable(message);
    case Status::Code::kFailedPrecondition:
      return Status::FailedPrecondition(message);
    case Status::Code::kOk:
    case Status::Code::kInternal:
      break;
  }
  return Status::Internal(message);
}

// Sampling fields added after the first wire version: a node that does not send them means
// the defaults. Bounded here; SamplingParams::Validate checks the rest.
Status DecodeNewerSampling(const rapidjson::Value& sv, SamplingParams* s) {
  if (sv.HasMember("logit_bias")) {
    const rapidjson::Value& v = sv["logit_bias"];
    if (!v.IsArray() || v.Size() > kMaxLogitBias) return Bad("\"logit_bias\" is not an array of at most 300 entries");
    for (const rapidjson::Value& e : v.GetArray()) {
      if (!e.IsArray() || e.Size() != 2 || !e[0].IsInt() || e[0].GetInt() > kMaxTokenId || !e[1].IsNumber()) {
        return Bad("\"logit_bias\" holds a bad entry");
      }
      s->logit_bias.push_back({e[0].GetInt(), static_cast<float>(e[1].GetDouble())});
    }
  }
  if (sv.HasMember("min_tokens")) {
    HEARTH_ASSIGN_OR_RETURN(int64_t min_tokens, Int(sv, "min_tokens", 0, kMaxTokens));
    s->min_tokens = static_cast<int32_t>(min_tokens);
  }
  if (sv.HasMember("ignore_eos")) {
    if (!sv["ignore_eos"].IsBool()) return Bad("\"ignore_eos\" is not a boolean");
    s->ignore_eos = sv["ignore_eos"].GetBool();
  }
  if (sv.HasMember("stop_token_ids")) {
    HEARTH_RETURN_IF_ERROR(TokenIds(sv, "stop_token_ids", &s->stop_token_ids));
    if (s->stop_token_ids.size() > kMaxStopTokenIds) return Bad("\"stop_token_ids\" holds too many ids");
  }
  if (sv.HasMember("grammar")) {
    const rapidjson::Value& g = sv["grammar"];
    if (!g.IsString() || g.GetStringLength() > kMaxGrammarBytes) return Bad("\"grammar\" is not a string of at most 256 KiB");
    s->grammar.assign(g.GetString(), g.GetStringLength());
  }
  return Status::Ok();
}

}  // namespace

std::string EncodeForwardRequest(const ForwardRequest& r) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("model");
  WriteString(w, r.model);
  WriteIds(w, "prompt", r.prompt);
  w.Key("max_tokens");
  w.Int(r.max_tokens);
  w.Key("priority");
  w.Int(r.priority);
  w.Key("stop");
  w.StartArray();
  for (const std::string& s : r.stop) WriteString(w, s);
  w.EndArray();
  const SamplingParams& s = r.sampling;
  w.Key("sampling");
  w.StartObject();
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
  w.Key("seed");  // as text: JSON readers elsewhere lose integers above 2^53
  WriteString(w, std::to_string(s.seed));
  w.Key("num_logprobs");
  w.Int(s.num_logprobs);
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
  WriteIds(w, "stop_token_ids", s.stop_token_ids);
  if (!s.grammar.empty()) {
    w.Key("grammar");
    WriteString(w, s.grammar);
  }
  w.EndObject();
  WriteIds(w, "committed", r.committed);
  w.Key("entry");
  WriteString(w, r.entry);
  w.Key("entry_id");
  w.Uint64(r.entry_id);
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

StatusOr<ForwardRequest> DecodeForwardRequest(std::string_view json) {
  rapidjson::Document d;
  HEARTH_RETURN_IF_ERROR(ParseJsonObject(json, &d));
  ForwardRequest r;
  HEARTH_ASSIGN_OR_RETURN(r.model, Text(d, "model", kMaxName));
  if (r.model.empty()) return Bad("\"model\" is empty");
  HEARTH_RETURN_IF_ERROR(TokenIds(d, "prompt", &r.prompt));
  if (r.prompt.empty()) return Bad("\"prompt\" is empty");
  HEARTH_ASSIGN_OR_RETURN(int64_t max_tokens, Int(d, "max_tokens", 1, kMaxTokens));
  r.max_tokens = static_cast<int32_t>(max_tokens);
  HEARTH_ASSIGN_OR_RETURN(int64_t priority, Int(d, "priority", -(int64_t{1} << 30), int64_t{1} << 30));
  r.priority = static_cast<int32_t>(priority);
  HEARTH_ASSIGN_OR_RETURN(const rapidjson::Value* stop, Member(d, "stop"));
  if (!stop->IsArray() || stop->Size() > kMaxStopStrings) return Bad("\"stop\" is not an array of stop strings");
  for (const rapidjson::Value& s : stop->GetArray()) {
    if (!s.IsString() || s.GetStringLength() == 0 || s.GetStringLength() > kMaxStopStringBytes) {
      return Bad("\"stop\" holds a bad stop string");
    }
    r.stop.emplace_back(s.GetString(), s.GetStringLength());
  }
  HEARTH_ASSIGN_OR_RETURN(const rapidjson::Value* sv, Member(d, "sampling"));
  if (!sv->IsObject()) return Bad("\"sampling\" is not an object");
  SamplingParams& s = r.sampling;
  HEARTH_ASSIGN_OR_RETURN(s.temperature, Float(*sv, "temperature"));
  HEARTH_ASSIGN_OR_RETURN(int64_t top_k, Int(*sv, "top_k", 0, kMaxTokenId));
  s.top_k = static_cast<int32_t>(top_k);
  HEARTH_ASSIGN_OR_RETURN(s.top_p, Float(*sv, "top_p"));
  HEARTH_ASSIGN_OR_RETURN(s.min_p, Float(*sv, "min_p"));
  HEARTH_ASSIGN_OR_RETURN(s.repetition_penalty, Float(*sv, "repetition_penalty"));
  HEARTH_ASSIGN_OR_RETURN(s.frequency_penalty, Float(*sv, "frequency_penalty"));
  HEARTH_ASSIGN_OR_RETURN(s.presence_penalty, Float(*sv, "presence_penalty"));
  HEARTH_ASSIGN_OR_RETURN(std::string seed, Text(*sv, "seed", 20));
  if (seed.empty() || seed.find_first_not_of("0123456789") != std::string::npos) return Bad("\"seed\" is not a number");
  errno = 0;
  char* end = nullptr;
  const unsigned long long parsed = std::strtoull(seed.c_str(), &end, 10);
  if (errno == ERANGE || *end != '\0') return Bad("\"seed\" is out of bounds");
  s.seed = parsed;
  HEARTH_ASSIGN_OR_RETURN(int64_t logprobs, Int(*sv, "num_logprobs", 0, kMaxLogprobs));
  s.num_logprobs = static_cast<int32_t>(logprobs);
  HEARTH_RETURN_IF_ERROR(DecodeNewerSampling(*sv, &s));
  HEARTH_RETURN_IF_ERROR(s.Validate().WithContext("forwarded request"));
  HEARTH_RETURN_IF_ERROR(TokenIds(d, "committed", &r.committed));
  if (r.committed.size() >= static_cast<size_t>(r.max_tokens)) return Bad("\"committed\" leaves no token to generate");
  HEARTH_ASSIGN_OR_RETURN(r.entry, Text(d, "entry", kMaxName));
  HEARTH_ASSIGN_OR_RETURN(const rapidjson::Value* entry_id, Member(d, "entry_id"));
  if (!entry_id->IsUint64()) return Bad("\"entry_id\" is not a request id");
  r.entry_id = entry_id->GetUint64();
  return r;
}

std::string EncodeTokenFrame(const GeneratedToken& t) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("t");
  w.Int(t.id);
  w.Key("lp");
  w.Double(WireLogprob(t.logprob));
  if (!t.top.empty()) {
    w.Key("top");
    w.StartArray();
    for (const TokenAlternative& alt : t.top) {
      w.StartArray();
      w.Int(alt.id);
      w.Double(WireLogprob(alt.logprob));
      w.EndArray();
    }
    w.EndArray();
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

std::string EncodeFinishFrame(const FinishEvent& f, int32_t generated_tokens, double cost_dollars,
                              const std::string& next_node) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("finish");
  WriteString(w, FinishReasonName(f.finish_reason));
  w.Key("prompt_tokens");
  w.Int(f.prompt_tokens);
  w.Key("completion_tokens");
  w.Int(f.completion_tokens);
  w.Key("cached_tokens");
  w.Int(std::max(0, f.cached_tokens));
  w.Key("generated_tokens");
  w.Int(std::max(0, generated_tokens));
  w.Key("cost_dollars");
  w.Double(std::isfinite(cost_dollars) && cost_dollars > 0 ? cost_dollars : 0.0);
  if (!next_node.empty()) {
    w.Key("next_node");
    WriteString(w, next_node);
  }
  if (f.finish_reason == FinishReason::kError) {
    w.Key("code");
    w.Int(static_cast<int>(f.status.code()));
    w.Key("error");
    WriteString(w, f.status.message().substr(0, kMaxErrorBytes));
  }
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

StatusOr<ForwardFrame> DecodeForwardFrame(std::string_view json) {
  rapidjson::Document d;
  if (Status st = ParseJsonObject(json, &d); !st.ok()) return BadFrame(st.message());
  ForwardFrame f;
  // A logprob is finite and at most 0, or -inf written as a very negative number; NaN never.
  auto logprob = [](const rapidjson::Value& v, float* out) {
    if (!v.IsNumber() || std::isnan(v.GetDouble()) || v.GetDouble() > 1e-3) return false;
    *out = static_cast<float>(v.GetDouble());
    return true;
  };
  if (auto t = d.FindMember("t"); t != d.MemberEnd()) {
    if (!t->value.IsInt() || t->value.GetInt() < 0 || t->value.GetInt() > kMaxTokenId) return BadFrame("bad \"t\"");
    f.token = t->value.GetInt();
    auto lp = d.FindMember("lp");
    if (lp == d.MemberEnd() || !logprob(lp->value, &f.logprob)) return BadFrame("bad \"lp\"");
    if (auto top = d.FindMember("top"); top != d.MemberEnd()) {
      if (!top->value.IsArray() || top->value.Size() > static_cast<size_t>(kMaxLogprobs)) return BadFrame("bad \"top\"");
      for (const rapidjson::Value& alt : top->value.GetArray()) {
        ForwardFrame::Alternative a;
        if (!alt.IsArray() || alt.Size() != 2 || !alt[0].IsInt() || alt[0].GetInt() < 0 ||
            alt[0].GetInt() > kMaxTokenId || !logprob(alt[1], &a.logprob)) {
          return BadFrame("bad \"top\"");
        }
        a.token = alt[0].GetInt();
        f.top.push_back(a);
      }
    }
    return f;
  }
  auto finish = d.FindMember("finish");
  if (finish == d.MemberEnd() || !finish->value.IsString() ||
      !ParseFinishReason(std::string_view(finish->value.GetString(), finish->value.GetStringLength()), &f.reason)) {
    return BadFrame("neither a token nor a finish");
  }
  f.is_finish = true;
  for (auto [key, out] : {std::pair{"prompt_tokens", &f.prompt_tokens}, {"completion_tokens", &f.completion_tokens}}) {
    auto it = d.FindMember(key);
    if (it == d.MemberEnd() || !it->value.IsInt() || it->value.GetInt() < 0) return BadFrame(Quoted(key) + " is bad");
    *out = it->value.GetInt();
  }
  // Absent from an older node: 0.
  if (auto it = d.FindMember("cached_tokens"); it != d.MemberEnd()) {
    if (!it->value.IsInt() || it->value.GetInt() < 0 || it->value.GetInt() > f.prompt_tokens) {
      return BadFrame("\"cached_tokens\" is bad");
    }
    f.cached_tokens = it->value.GetInt();
  }
  if (auto it = d.FindMember("generated_tokens"); it != d.MemberEnd()) {
    if (!it->value.IsInt() || it->value.GetInt() < 0) return BadFrame("\"generated_tokens\" is bad");
    f.generated_tokens = it->value.GetInt();
  }
  if (auto it = d.FindMember("cost_dollars"); it != d.MemberEnd()) {
    if (!it->value.IsNumber() || !std::isfinite(it->value.GetDouble()) || it->value.GetDouble() < 0 ||
        it->value.GetDouble() > 1e9) {
      return BadFrame("\"cost_dollars\" is bad");
    }
    f.cost_dollars = it->value.GetDouble();
  }
  if (auto it = d.FindMember("next_node"); it != d.MemberEnd()) {
    if (!it->value.IsString() || !cluster::ValidNodeName(std::string_view(it->value.GetString(), it->value.GetStringLength()))) {
      return BadFrame("\"next_node\" is not a node name");
    }
    f.next_node = it->value.GetString();
  }
  if (f.reason == FinishReason::kError) {
    auto code = d.FindMember("code");
    auto error = d.FindMember("error");
    if (code == d.MemberEnd() || !code->value.IsInt() || code->value.GetInt() <= 0 ||
        code->value.GetInt() > static_cast<int>(Status::Code::kInternal)) {
      return BadFrame("bad \"code\"");
    }
    if (error == d.MemberEnd() || !error->value.IsString() || error->value.GetStringLength() > kMaxErrorBytes) {
      return BadFrame("bad \"error\"");
    }
    f.error_code = static_cast<Status::Code>(code->value.GetInt());
    f.error.assign(error->value.GetString(), error->value.GetStringLength());
  }
  return f;
}

// The Status an error frame carries.
Status FrameStatus(const ForwardFrame& f) {
  if (f.reason != FinishReason::kError) return Status::Ok();
  return MakeStatus(f.error_code, f.error);
}

}  // namespace hearth::daemon
