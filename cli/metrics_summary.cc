#include "cli/metrics_summary.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <sstream>

namespace hearth::cli {
namespace {

// One sample line of the Prometheus text format.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

bool ParseSample(const std::string& line, Sample* s) {
  if (line.empty() || line[0] == '#') return false;
  size_t i = line.find_first_of("{ ");
  if (i == std::string::npos) return false;
  s->name = line.substr(0, i);
  s->labels.clear();
  if (line[i] == '{') {
    const size_t end = line.find('}', i);
    if (end == std::string::npos) return false;
    std::string body = line.substr(i + 1, end - i - 1);
    size_t p = 0;
    while (p < body.size()) {
      const size_t eq = body.find('=', p);
      if (eq == std::string::npos || eq + 1 >= body.size() || body[eq + 1] != '"') return false;
      const size_t close = body.find('"', eq + 2);
      if (close == std::string::npos) return false;
      s->labels[body.substr(p, eq - p)] = body.substr(eq + 2, close - eq - 2);
      p = close + 1;
      if (p < body.size() && body[p] == ',') ++p;
    }
    i = end + 1;
  }
  try {
    const std::string v = line.substr(i);
    s->value = v.find("Inf") != std::string::npos ? INFINITY : std::stod(v);
  } catch (...) {
    return false;
  }
  return true;
}

// The q-quantile of a histogram from its cumulative buckets (summed over
// labels), interpolated linearly inside the bucket, as Prometheus does.
double Quantile(const std::map<double, double>& buckets, double q) {
  if (buckets.empty()) return NAN;
  const double total = buckets.rbegin()->second;
  if (total <= 0) return NAN;
  const double rank = q * total;
  double prev_le = 0, prev_count = 0;
  for (const auto& [le, count] : buckets) {
    if (count >= rank) {
      if (std::isinf(le)) return prev_le;
      return prev_le + (le - prev_le) * (count > prev_count ? (rank - prev_count) / (count - prev_count) : 1.0);
    }
    prev_le = le;
    prev_count = count;
  }
  return prev_le;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

StatusOr<MetricsSummary> SummarizeMetrics(const std::string& prometheus_text) {
  std::map<std::string, double> sums;                    // name -> sum over labels
  std::map<std::string, std::map<double, double>> hist;  // histogram -> le -> count
  MetricsSummary out;
  std::istringstream in(prometheus_text);
  std::string line;
  Sample s;
  int samples = 0;
  while (std::getline(in, line)) {
    if (!ParseSample(line, &s)) continue;
    ++samples;
    sums[s.name] += s.value;
    if (s.name == "hearth_requests_total") out.requests_by_status[s.labels["status"]] += std::llround(s.value);
    if (EndsWith(s.name, "_bucket") && s.labels.count("le")) {
      const std::string& le = s.labels["le"];
      try {
        hist[s.name.substr(0, s.name.size() - 7)][le == "+Inf" ? INFINITY : std::stod(le)] += s.value;
      } catch (...) {
        // A bucket bound that is not a number: not ours to summarize.
      }
    }
  }
  if (samples == 0) return Status::Corruption("the daemon's /metrics answer has no samples");
  auto count = [&](const char* name) { return static_cast<int64_t>(std::llround(sums[name])); };
  out.prompt_tokens = count("hearth_prompt_tokens_total");
  out.generated_tokens = count("hearth_generated_tokens_total");
  out.tokens_per_second = sums["hearth_generation_tokens_per_second"];
  out.queued_requests = count("hearth_queued_requests");
  out.queued_prompt_tokens = count("hearth_queued_prompt_tokens");
  out.running_sequences = count("hearth_running_sequences");
  out.kv_blocks_used = count("hearth_kv_blocks_used");
  out.kv_blocks_free = count("hearth_kv_blocks_free");
  // Older hearthd called it hearth_kv_blocks_total (promtool: a gauge must not end in _total).
  out.kv_blocks_total =
      count(sums.count("hearth_kv_blocks_capacity") ? "hearth_kv_blocks_capacity" : "hearth_kv_blocks_total");
  out.prewarm_actions = count("hearth_prewarm_actions_total");
  out.prewarm_hits = count("hearth_prewarm_hits_total");
  out.prewarm_waste = count("hearth_prewarm_waste_total");
  const std::pair<const char*, const char*> rows[] = {{"queue", "hearth_request_queue_seconds"},
                                                      {"ttft", "hearth_time_to_first_token_seconds"},
                                                      {"tpot", "hearth_time_per_output_token_seconds"},
                                                      {"end to end", "hearth_request_duration_seconds"}};
  for (const auto& [label, name] : rows) {
    const std::map<double, double>& b = hist[name];
    out.latency.push_back({label, name, Quantile(b, 0.5), Quantile(b, 0.9), Quantile(b, 0.99),
                           b.empty() ? 0 : static_cast<int64_t>(std::llround(b.rbegin()->second))});
  }
  return out;
}

std::string MetricsSummaryJson(const MetricsSummary& m) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto number = [&w](const char* key, double v) {
    w.Key(key);
    if (std::isfinite(v))
      w.Double(v);
    else
      w.Null();
  };
  auto integer = [&w](const char* key, int64_t v) {
    w.Key(key);
    w.Int64(v);
  };
  w.StartObject();
  w.Key("hearth_requests_total");
  w.StartObject();
  for (const auto& [status, n] : m.requests_by_status) integer(status.c_str(), n);
  w.EndObject();
  integer("hearth_prompt_tokens_total", m.prompt_tokens);
  integer("hearth_generated_tokens_total", m.generated_tokens);
  number("hearth_generation_tokens_per_second", m.tokens_per_second);
  integer("hearth_queued_requests", m.queued_requests);
  integer("hearth_queued_prompt_tokens", m.queued_prompt_tokens);
  integer("hearth_running_sequences", m.running_sequences);
  integer("hearth_kv_blocks_used", m.kv_blocks_used);
  integer("hearth_kv_blocks_free", m.kv_blocks_free);
  integer("hearth_kv_blocks_total", m.kv_blocks_total);
  integer("hearth_prewarm_actions_total", m.prewarm_actions);
  integer("hearth_prewarm_hits_total", m.prewarm_hits);
  integer("hearth_prewarm_waste_total", m.prewarm_waste);
  for (const LatencySummary& l : m.latency) {
    w.Key(l.metric.c_str());
    w.StartObject();
    number("p50", l.p50);
    number("p90", l.p90);
    number("p99", l.p99);
    integer("count", l.count);
    w.EndObject();
  }
  w.EndObject();
  return buf.GetString();
}

}  // namespace hearth::cli
