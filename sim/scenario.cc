#include "sim/scenario.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "common/json_parse.h"

namespace hearth::sim {
namespace {

using rapidjson::Value;

// Reads optional fields of one JSON object, remembering the first error.
class Fields {
 public:
  Fields(const Value& v, std::string where) : v_(v), where_(std::move(where)) {}

  void Num(const char* key, double* out, double lo, double hi) {
    const Value* f = Find(key);
    if (!f) return;
    if (!f->IsNumber() || !std::isfinite(f->GetDouble()) || f->GetDouble() < lo || f->GetDouble() > hi) {
      Fail(key, "must be a number in [" + Str(lo) + ", " + Str(hi) + "]");
      return;
    }
    *out = f->GetDouble();
  }
  template <typename T>
  void Int(const char* key, T* out, double lo, double hi) {
    double d = static_cast<double>(*out);
    Num(key, &d, lo, hi);
    if (d != std::floor(d)) Fail(key, "must be an integer");
    *out = static_cast<T>(d);
  }
  void Bool(const char* key, bool* out) {
    const Value* f = Find(key);
    if (!f) return;
    if (!f->IsBool()) return Fail(key, "must be true or false");
    *out = f->GetBool();
  }
  void String(const char* key, std::string* out) {
    const Value* f = Find(key);
    if (!f) return;
    if (!f->IsString()) return Fail(key, "must be a string");
    *out = f->GetString();
  }
  // One of `a` or `b`; true when `b`.
  void Choice(const char* key, const char* a, const char* b, bool* is_b) {
    std::string s;
    String(key, &s);
    if (s.empty()) return;
    if (s == a) {
      *is_b = false;
    } else if (s == b) {
      *is_b = true;
    } else {
      Fail(key, std::string("must be \"") + a + "\" or \"" + b + "\"");
    }
  }
  const Value* Find(const char* key) const {
    auto it = v_.FindMember(key);
    return it == v_.MemberEnd() ? nullptr : &it->value;
  }
  void Fail(const char* key, const std::string& what) {
    if (status_.ok()) status_ = Status::InvalidArgument(where_ + key + " " + what);
  }
  const Status& status() const { return status_; }

 private:
  static std::string Str(double d) {
    std::ostringstream s;
    s << d;
    return s.str();
  }
  const Value& v_;
  std::string where_;
  Status status_;
};

constexpr double kMaxBytes = 1e15;

Status ParseNodes(const Value& arr, Scenario* s) {
  if (!arr.IsArray() || arr.Empty()) return Status::InvalidArgument("nodes must be a non-empty array");
  int64_t total = 0;
  for (rapidjson::SizeType i = 0; i < arr.Size(); ++i) {
    if (!arr[i].IsObject()) return Status::InvalidArgument("nodes[] must be objects");
    NodeGroup g;
    g.name = "node" + std::to_string(i);
    Fields f(arr[i], "nodes[" + std::to_string(i) + "].");
    f.String("name", &g.name);
    f.Int("count", &g.count, 0, 100000);
    f.Int("gpus", &g.gpus, 1, 64);
    f.Int("gpu_memory_bytes", &g.gpu_memory_bytes, 1, kMaxBytes);
    f.Int("staged_bytes", &g.staged_bytes, 0, kMaxBytes);
    f.Num("price_per_hour", &g.price_per_hour, 0, 1e6);
    f.Choice("instance", "on-demand", "spot", &g.spot);
    f.Bool("serves", &g.serves);
    if (!f.Find("gpu_memory_bytes")) f.Fail("gpu_memory_bytes", "is required");
    HEARTH_RETURN_IF_ERROR(f.status());
    total += g.count;
    s->nodes.push_back(g);
  }
  if (total < 1 || total > 100000) return Status::InvalidArgument("the fleet must have 1 to 100000 nodes");
  return Status::Ok();
}

Status ParseModels(const Value& arr, Scenario* s) {
  if (!arr.IsArray() || arr.Empty()) return Status::InvalidArgument("models must be a non-empty array");
  for (rapidjson::SizeType i = 0; i < arr.Size(); ++i) {
    if (!arr[i].IsObject()) return Status::InvalidArgument("models[] must be objects");
    ModelSpec m;
    m.name = "model" + std::to_string(i);
    int32_t count = 1;
    Fields f(arr[i], "models[" + std::to_string(i) + "].");
    f.String("name", &m.name);
    f.Int("count", &count, 1, s->max_models);
    f.Int("weight_bytes", &m.weight_bytes, 1, kMaxBytes);
    f.Num("params", &m.params, 0, 1e15);
    f.Int("kv_bytes_per_token", &m.kv_bytes_per_token, 0, 1e9);
    f.Int("kv_cache_bytes", &m.kv_cache_bytes, 0, kMaxBytes);
    f.Num("step_time_scale", &m.step_time_scale, 1e-6, 1e6);
    if (!f.Find("weight_bytes")) f.Fail("weight_bytes", "is required");
    HEARTH_RETURN_IF_ERROR(f.status());
    if (m.params == 0) m.params = static_cast<double>(m.weight_bytes) / 2;  // bf16
    for (int32_t c = 0; c < count; ++c) {
      ModelSpec copy = m;
      if (count > 1) copy.name = m.name + "-" + std::to_string(c);
      s->models.push_back(copy);
    }
    if (static_cast<int32_t>(s->models.size()) > s->max_models) return Status::InvalidArgument("too many models");
  }
  for (size_t i = 0; i < s->models.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (s->models[i].name == s->models[j].name) return Status::InvalidArgument("duplicate model " + s->models[i].name);
    }
  }
  return Status::Ok();
}

Status ParseArrivals(const Value& v, Scenario* s) {
  if (!v.IsObject()) return Status::InvalidArgument("arrivals must be an object");
  ArrivalSpec& a = s->arrivals;
  Fields f(v, "arrivals.");
  f.Num("duration_s", &a.duration_s, 1e-3, 1e7);
  f.Num("rate", &a.rate, 1e-6, 1e8);
  f.Num("alpha", &a.alpha, 0, 10);
  f.Num("compression", &a.compression, 0, 1e6);
  f.Int("max_prompt_tokens", &a.max_prompt_tokens, 0, 1 << 20);
  f.Int("max_output_tokens", &a.max_output_tokens, 0, 1 << 20);
  HEARTH_RETURN_IF_ERROR(f.status());
  const Value* traces = f.Find("traces");
  if (!traces || !traces->IsArray() || traces->Empty()) {
    return Status::InvalidArgument("arrivals.traces must be a non-empty array of paths");
  }
  for (const Value& t : traces->GetArray()) {
    if (!t.IsString()) return Status::InvalidArgument("arrivals.traces[] must be strings");
    a.traces.push_back(t.GetString());
  }
  return Status::Ok();
}

Status ParseTransfer(const Fields& parent, const char* key, TransferParams* t) {
  const Value* v = parent.Find(key);
  if (!v) return Status::Ok();
  if (!v->IsObject()) return Status::InvalidArgument(std::string("time.") + key + " must be an object");
  Fields f(*v, std::string("time.") + key + ".");
  f.Num("bytes_per_s", &t->bytes_per_s, 1, 1e15);
  f.Num("latency_ms", &t->latency_ms, 0, 1e7);
  return f.status();
}

Status ParseTime(const Value& v, Scenario* s) {
  if (!v.IsObject()) return Status::InvalidArgument("time must be an object");
  TimeSpec& t = s->time;
  Fields f(v, "time.");
  std::string kind = "profile";
  f.String("kind", &kind);
  HEARTH_RETURN_IF_ERROR(f.status());
  HEARTH_RETURN_IF_ERROR(ParseTransfer(f, "load", &t.load));
  HEARTH_RETURN_IF_ERROR(ParseTransfer(f, "swap_in", &t.swap_in));
  HEARTH_RETURN_IF_ERROR(ParseTransfer(f, "kv_transfer", &t.kv_transfer));
  if (kind == "roofline") {
    t.roofline = true;
    RooflineParams& r = t.roofline_params;
    f.Num("hbm_bytes_per_s", &r.hbm_bytes_per_s, 1, 1e16);
    f.Num("peak_flops", &r.peak_flops, 1, 1e18);
    f.Num("memory_efficiency", &r.memory_efficiency, 1e-3, 1);
    f.Num("compute_efficiency", &r.compute_efficiency, 1e-3, 1);
    f.Num("step_overhead_ms", &r.step_overhead_ms, 0, 1e4);
    return f.status();
  }
  if (kind != "profile") return Status::InvalidArgument("time.kind must be \"profile\" or \"roofline\"");
  const Value* p = f.Find("profile");
  if (!p || !p->IsArray() || p->Empty() || p->Size() > 4096) {
    return Status::InvalidArgument("time.profile must be an array of [tokens, ms] pairs");
  }
  for (const Value& pt : p->GetArray()) {
    if (!pt.IsArray() || pt.Size() != 2 || !pt[0].IsInt() || !pt[1].IsNumber()) {
      return Status::InvalidArgument("time.profile must be an array of [tokens, ms] pairs");
    }
    t.profile.push_back({pt[0].GetInt(), pt[1].GetDouble()});
  }
  return StepTimeModel::FromProfile(t.profile).status();
}

Status ParsePolicy(const Value& v, Scenario* s) {
  if (!v.IsObject()) return Status::InvalidArgument("policy must be an object");
  PolicySpec& p = s->policy;
  Fields f(v, "policy.");
  bool forecast = p.placement == PlacementPolicy::kForecast;
  bool migrate = p.preemption == PreemptionPolicy::kMigrate;
  f.Choice("placement", "lru", "forecast", &forecast);
  f.Choice("preemption", "restart", "migrate", &migrate);
  f.Num("window_s", &p.window_s, 1e-3, 1e6);
  f.Num("period_s", &p.period_s, 1e-3, 1e8);
  f.Int("balance_slack", &p.balance_slack, 0, 1e9);
  f.Num("slo_ttft_ms", &p.slo_ttft_ms, 0, 1e9);
  f.Num("slo_tpot_ms", &p.slo_tpot_ms, 0, 1e9);
  f.Num("warmup_s", &p.warmup_s, 0, 1e7);
  f.Bool("cluster_placement", &p.cluster_placement);
  f.Bool("startup_fill", &p.startup_fill);
  p.placement = forecast ? PlacementPolicy::kForecast : PlacementPolicy::kLru;
  p.preemption = migrate ? PreemptionPolicy::kMigrate : PreemptionPolicy::kRestart;
  return f.status();
}

}  // namespace

StatusOr<Scenario> ParseScenario(const std::string& json) {
  rapidjson::Document doc;
  HEARTH_RETURN_IF_ERROR(ParseJsonObject(json, &doc));
  Scenario s;
  Fields top(doc, "");
  top.Int("seed", &s.seed, 0, 9007199254740991.0);
  top.Int("page_bytes", &s.page_bytes, 1, 1e12);
  HEARTH_RETURN_IF_ERROR(top.status());
  const Value* nodes = top.Find("nodes");
  const Value* models = top.Find("models");
  const Value* arrivals = top.Find("arrivals");
  const Value* time = top.Find("time");
  if (!nodes || !models || !arrivals || !time) {
    return Status::InvalidArgument("a scenario needs nodes, models, arrivals and time");
  }
  HEARTH_RETURN_IF_ERROR(ParseNodes(*nodes, &s));
  HEARTH_RETURN_IF_ERROR(ParseModels(*models, &s));
  HEARTH_RETURN_IF_ERROR(ParseArrivals(*arrivals, &s));
  HEARTH_RETURN_IF_ERROR(ParseTime(*time, &s));
  if (const Value* v = top.Find("policy")) HEARTH_RETURN_IF_ERROR(ParsePolicy(*v, &s));
  if (const Value* v = top.Find("spot")) {
    if (!v->IsObject()) return Status::InvalidArgument("spot must be an object");
    Fields f(*v, "spot.");
    f.String("trace", &s.spot.trace);
    f.Num("start_s", &s.spot.start_s, 0, 1e8);
    f.Num("compression", &s.spot.compression, 1e-3, 1e6);
    f.Num("notice_s", &s.spot.notice_s, 0, 1e5);
    f.Bool("steps", &s.spot.steps);
    HEARTH_RETURN_IF_ERROR(f.status());
  }
  if (const Value* v = top.Find("scheduler")) {
    if (!v->IsObject()) return Status::InvalidArgument("scheduler must be an object");
    Fields f(*v, "scheduler.");
    f.Int("token_budget", &s.scheduler.token_budget, 1, 1 << 20);
    f.Int("max_num_seqs", &s.scheduler.max_num_seqs, 1, 1 << 16);
    f.Int("block_size", &s.scheduler.block_size, 1, 1024);
    f.Bool("chunked_prefill", &s.scheduler.chunked_prefill);
    HEARTH_RETURN_IF_ERROR(f.status());
  }
  return s;
}

StatusOr<Scenario> LoadScenario(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return ParseScenario(text.str());
}

}  // namespace hearth::sim
