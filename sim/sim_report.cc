#include "sim/sim_report.h"

#include <algorithm>
#include <cmath>

#include "common/json_writer.h"

namespace hearth::sim {
namespace {

constexpr double kBucketS = 60;

struct Stats {
  std::vector<double> ttft_ms, tpot_ms, e2e_ms;
  int64_t requests = 0, completed = 0, lost = 0, cold = 0, swap_ins = 0, restarts = 0, migrations = 0;
  int64_t slo_met = 0, tokens = 0;
};

void Add(const Scenario& s, const RequestOutcome& o, Stats* st) {
  st->requests++;
  st->cold += o.cold_start;
  st->swap_ins += o.swap_in;
  st->restarts += o.restarts;
  st->migrations += o.migrations;
  st->tokens += o.delivered;
  if (o.finished_ns < 0) {
    st->lost++;
    return;
  }
  st->completed++;
  const double ttft = static_cast<double>(o.first_token_ns - o.arrival_ns) / 1e6;
  const double tpot =
      o.delivered > 1 ? static_cast<double>(o.last_token_ns - o.first_token_ns) / 1e6 / (o.delivered - 1) : 0;
  st->ttft_ms.push_back(ttft);
  st->tpot_ms.push_back(tpot);
  st->e2e_ms.push_back(static_cast<double>(o.finished_ns - o.arrival_ns) / 1e6);
  if (ttft <= s.policy.slo_ttft_ms && tpot <= s.policy.slo_tpot_ms) st->slo_met++;
}

double Round3(double v) { return std::round(v * 1000) / 1000; }

void Triple(JsonWriter& w, const char* key, std::vector<double>& v) {
  std::sort(v.begin(), v.end());
  w.Key(key);
  w.StartObject();
  w.Key("p50");
  w.Double(Round3(Percentile(v, 50)));
  w.Key("p90");
  w.Double(Round3(Percentile(v, 90)));
  w.Key("p99");
  w.Double(Round3(Percentile(v, 99)));
  w.EndObject();
}

void WriteStats(JsonWriter& w, Stats& st) {
  w.StartObject();
  w.Key("requests");
  w.Int64(st.requests);
  w.Key("completed");
  w.Int64(st.completed);
  w.Key("lost");
  w.Int64(st.lost);
  Triple(w, "ttft_ms", st.ttft_ms);
  Triple(w, "tpot_ms", st.tpot_ms);
  Triple(w, "e2e_ms", st.e2e_ms);
  w.Key("slo_attainment");
  w.Double(st.requests ? Round3(static_cast<double>(st.slo_met) / static_cast<double>(st.requests)) : 0);
  w.Key("cold_starts");
  w.Int64(st.cold);
  w.Key("swap_ins");
  w.Int64(st.swap_ins);
  w.Key("restarts");
  w.Int64(st.restarts);
  w.Key("migrations");
  w.Int64(st.migrations);
  w.Key("tokens_delivered");
  w.Int64(st.tokens);
  w.EndObject();
}

}  // namespace

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto n = static_cast<double>(sorted.size());
  auto rank = static_cast<size_t>(std::ceil(p / 100 * n));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

std::string ReportJson(const Scenario& s, const SimResult& r) {
  const auto warmup_ns = static_cast<int64_t>(s.policy.warmup_s * 1e9);
  Stats all;
  std::vector<Stats> per_model(s.models.size());
  std::vector<std::vector<double>> buckets;  // TTFT by arrival minute
  for (const RequestOutcome& o : r.requests) {
    if (o.arrival_ns < warmup_ns) continue;
    Add(s, o, &all);
    Add(s, o, &per_model[static_cast<size_t>(o.model)]);
    const auto b = static_cast<size_t>(static_cast<double>(o.arrival_ns) / 1e9 / kBucketS);
    if (buckets.size() <= b) buckets.resize(b + 1);
    if (o.finished_ns >= 0) buckets[b].push_back(static_cast<double>(o.first_token_ns - o.arrival_ns) / 1e6);
  }
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("seed");
  w.Uint64(s.seed);
  w.Key("policy");
  w.StartObject();
  w.Key("placement");
  w.String(s.policy.placement == PlacementPolicy::kLru ? "lru" : "forecast");
  w.Key("preemption");
  w.String(s.policy.preemption == PreemptionPolicy::kRestart ? "restart" : "migrate");
  w.Key("slo_ttft_ms");
  w.Double(s.policy.slo_ttft_ms);
  w.Key("slo_tpot_ms");
  w.Double(s.policy.slo_tpot_ms);
  w.EndObject();
  w.Key("overall");
  WriteStats(w, all);
  w.Key("models");
  w.StartObject();
  for (size_t m = 0; m < s.models.size(); ++m) {
    WriteString(w, s.models[m].name);
    WriteStats(w, per_model[m]);
  }
  w.EndObject();
  const SimCounters& c = r.counters;
  w.Key("counters");
  w.StartObject();
  const std::pair<const char*, int64_t> ints[] = {
      {"events", c.events},       {"steps", c.steps},           {"scheduled_tokens", c.scheduled_tokens},
      {"loads", c.loads},         {"swap_ins", c.swap_ins},     {"evictions", c.evictions},
      {"prewarm_actions", c.prewarm_actions}, {"preemptions", c.preemptions},
      {"migrated_models", c.migrated_models}, {"scheduler_preemptions", c.scheduler_preemptions}};
  for (const auto& [k, v] : ints) {
    w.Key(k);
    w.Int64(v);
  }
  w.Key("gpu_hours");
  w.Double(Round3(c.gpu_hours));
  w.Key("busy_gpu_hours");
  w.Double(Round3(c.busy_gpu_hours));
  w.Key("cost");
  w.Double(Round3(c.cost));
  w.Key("simulated_s");
  w.Double(Round3(static_cast<double>(r.end_ns) / 1e9));
  w.EndObject();
  w.Key("ttft_over_time");
  w.StartArray();
  for (size_t b = 0; b < buckets.size(); ++b) {
    std::sort(buckets[b].begin(), buckets[b].end());
    w.StartArray();
    w.Double(static_cast<double>(b) * kBucketS);
    w.Double(Round3(Percentile(buckets[b], 50)));
    w.Double(Round3(Percentile(buckets[b], 99)));
    w.Int64(static_cast<int64_t>(buckets[b].size()));
    w.EndArray();
  }
  w.EndArray();
  w.Key("cost_over_time");
  w.StartArray();
  for (const CostPoint& p : r.cost_over_time) {
    w.StartArray();
    w.Double(Round3(static_cast<double>(p.at_ns) / 1e9));
    w.Double(Round3(p.cost));
    w.Int(p.nodes);
    w.EndArray();
  }
  w.EndArray();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize()) + "\n";
}

}  // namespace hearth::sim
