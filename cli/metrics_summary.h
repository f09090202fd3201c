// The figures `hearthctl metrics` shows, read from hearthd's /metrics (Prometheus text): one
// summary that both the text view and --json print.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace hearth::cli {

struct LatencySummary {
  std::string name;    // "queue", "ttft", "tpot", "end to end"
  std::string metric;  // the histogram: "hearth_time_to_first_token_seconds"
  // Quantiles in seconds, estimated from the histogram's buckets; NaN with no observations.
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  int64_t count = 0;
};

struct MetricsSummary {
  std::map<std::string, int64_t> requests_by_status;  // hearth_requests_total, summed over models
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;
  double tokens_per_second = 0;  // generation, now
  int64_t queued_requests = 0;
  int64_t queued_prompt_tokens = 0;
  int64_t running_sequences = 0;
  int64_t kv_blocks_used = 0;
  int64_t kv_blocks_free = 0;
  int64_t kv_blocks_total = 0;
  // Placement by forecast: prewarm actions (any outcome), hits and waste, over every model.
  int64_t prewarm_actions = 0;
  int64_t prewarm_hits = 0;
  int64_t prewarm_waste = 0;
  std::vector<LatencySummary> latency;  // queue, ttft, tpot, end to end
};

// Corruption when the text holds no samples.
StatusOr<MetricsSummary> SummarizeMetrics(const std::string& prometheus_text);

// The summary as a JSON object keyed by the metrics each figure sums over their labels (as
// docs/metrics.md names them): hearth_requests_total by status, counts and gauges as numbers,
// each histogram as {"p50","p90","p99","count"} in seconds (null with no observations).
std::string MetricsSummaryJson(const MetricsSummary& summary);

}  // namespace hearth::cli
