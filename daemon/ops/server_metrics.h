// Hearth's metrics: every family /metrics serves, and the events that move them. Request
// events come from MeteredEngine; gauges are set from the engine's stats when scraped.
// docs/metrics.md describes each metric.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/engine/engine.h"
#include "daemon/ops/cost.h"
#include "daemon/ops/metrics.h"
#include "daemon/ops/process_metrics.h"
#include "daemon/ops/queue_limits.h"

namespace hearth::daemon {

// What a scrape reads from the live daemon.
struct LiveState {
  EngineStats engine;
  QueueLoad queue;
  int64_t workers_up = 0;
  int64_t models_loaded = 0;
  double tokens_per_second = 0;  // generated, over the last few seconds
  std::vector<std::string> models;       // registered: each gets its per-model series, at 0 if idle
  std::optional<ProcessSample> process;  // hearthd's own; none when /proc could not be read
  // In a cluster (docs/cluster.md): the nodes this one sees, whether it holds its lease and
  // reaches etcd, and its failed etcd calls so far. Without a cluster these stay 0.
  struct Cluster {
    int64_t nodes = 0;
    bool lease_held = false;
    bool etcd_reachable = false;
    int64_t etcd_errors = 0;
    // Routing (docs/cluster.md, "Routing"): requests this node took as entry node and served
    // itself or forwarded, resubmitted after their node failed them, forwarded ones that
    // failed, and forwarded ones open now.
    int64_t routed_local = 0;
    int64_t forwarded = 0;
    int64_t resubmitted = 0;
    int64_t forward_failed = 0;
    int64_t open_forwarded = 0;
  };
  std::optional<Cluster> cluster;
  // What this node costs (docs/cluster.md, "What it costs"): its price ([cluster]
  // price_per_hour, 0 on a node without one) and how long hearthd has run.
  double price_per_hour = 0;
  double uptime_seconds = 0;
};

// The `status` label of hearth_requests_total for a finished request: "ok" (finish_reason
// stop or length), "cancelled" or "error".
const char* RequestStatus(const FinishEvent& event);

class ServerMetrics {
 public:
  ServerMetrics();

  // A request the engine accepted.
  void RequestSubmitted(const std::string& model, int64_t prompt_tokens);
  // A request turned away at Submit: `reason` is "queued_requests", "queued_tokens",
  // "engine_queue" or "unavailable".
  void RequestRejected(const std::string& model, const std::string& reason);
  void RequestFinished(const std::string& model, const FinishEvent& event);
  // A load to warm (from the file or from a staged copy) that took `seconds`, moving `bytes`.
  void ModelLoaded(const std::string& model, double seconds, bool ok, uint64_t bytes = 0);
  // A move between memories (docs/models.md): "stage" (file to host copy), "swap_in" (host copy
  // to the pool) or "swap_out" (pool pages given back, host copy kept).
  void ModelSwapped(const std::string& model, const std::string& kind, double seconds, uint64_t bytes);
  // The model registry (docs/models.md): an eviction, a request that waited for its model to
  // load, and a model's state ("" once it is removed: every state 0).
  void ModelEvicted(const std::string& model);
  void ModelColdStart(const std::string& model);
  void SetModelState(const std::string& model, const std::string& state);
  // Placement by forecast (docs/models.md, "Prewarm"). A prewarm action on the model: `action`
  // is "load", "swap_in", "stage", "swap_out" or "unload"; `outcome` "done", "cancelled" (a
  // request needed the memory) or "failed".
  void PrewarmAction(const std::string& model, const std::string& action, const std::string& outcome);
  // A request found the model warm because a prewarm put it there.
  void PrewarmHit(const std::string& model);
  // A prewarmed model left the pool before any request used it.
  void PrewarmWasted(const std::string& model);
  // The forecast's view of the model: predicted and observed (last closed window) requests in
  // flight, average and peak; its score; where the last plan put it ("warm", "staged", "disk";
  // "" under policy lru: every planned state 0).
  void SetModelForecast(const std::string& model, double predicted_avg, double predicted_peak, double observed_avg,
                        double observed_peak, double score, const std::string& planned_state);
  void WorkerRestarted();
  // hearth_build_info{version} 1.
  void SetBuildInfo(const std::string& version);
  // One per-iteration store commit (the transaction and its fsync) that took `seconds`.
  void StoreCommitted(double seconds);
  // In a cluster: a forwarded request that lost its node got its next token from another.
  void Handoff(double seconds);
  // A draining node handed a request over: `transfer` with its KV blocks (`bytes` sent), or to
  // be recomputed.
  void KvHandedOver(bool transfer, uint64_t bytes);
  // This node imported a peer's KV blocks into its prefix cache.
  void KvImported(int32_t blocks, uint64_t bytes);
  // A store commit that failed (its requests end with the error).
  void StoreCommitFailed();
  // Recovery at start resumed `requests`, whose prompt and committed tokens (`prefill_tokens`)
  // the engine computes again.
  void Recovered(int64_t requests, int64_t prefill_tokens);

  // The exposition text, gauges taken from `live`. Per-model series are labelled `model`; a
  // model that is gone from `live` has its gauges set to 0 (its counters stay).
  std::string Render(const LiveState& live);

  const MetricRegistry& registry() const { return registry_; }

 private:
  // The cost families: the node's cost, split over `models` by their generated tokens.
  void RenderCost(const LiveState& live, const std::map<std::string, ModelEngineStats>& models);  // REQUIRES(render_mu_)

  MetricRegistry registry_;
  // Families, constant after construction (each one is thread-safe).
  Counter& requests_;
  Counter& rejected_;
  Counter& prompt_tokens_;
  Counter& generated_tokens_;
  Histogram& queue_time_;
  Histogram& ttft_;
  Histogram& tpot_;
  Histogram& e2e_;
  Gauge& queued_requests_;
  Gauge& queued_tokens_;
  Gauge& waiting_;
  Gauge& running_;
  Gauge& requests_waiting_;
  Gauge& requests_running_;
  Gauge& kv_used_;
  Gauge& kv_free_;
  Gauge& kv_total_;
  Gauge& kv_usage_;
  Counter& prefix_queried_;
  Counter& prefix_hits_;
  Gauge& prefix_hit_ratio_;
  Gauge& tokens_per_second_;
  Gauge& workers_up_;
  Counter& worker_restarts_;
  Gauge& models_loaded_;
  Counter& model_loads_;
  Histogram& model_load_time_;
  Counter& model_load_bytes_;
  Counter& model_swaps_;
  Histogram& model_swap_time_;
  Counter& model_swap_bytes_;
  Counter& model_evictions_;
  Counter& model_cold_starts_;
  Gauge& model_state_;
  Counter& prewarm_actions_;
  Counter& prewarm_hits_;
  Counter& prewarm_waste_;
  Gauge& model_predicted_load_;
  Gauge& model_observed_load_;
  Gauge& model_score_;
  Gauge& model_planned_state_;
  Histogram& store_commit_time_;
  Counter& store_commit_errors_;
  Counter& recovered_requests_;
  Counter& recovered_prefill_tokens_;
  Gauge& build_info_;
  Counter& process_cpu_;
  Gauge& process_resident_;
  Gauge& process_virtual_;
  Gauge& process_start_time_;
  Gauge& process_open_fds_;
  Gauge& process_max_fds_;
  Gauge& cluster_nodes_;
  Gauge& cluster_lease_held_;
  Gauge& cluster_etcd_reachable_;
  Counter& cluster_etcd_errors_;
  Counter& cluster_routed_;
  Counter& cluster_resubmitted_;
  Counter& cluster_forward_failed_;
  Gauge& cluster_open_forwarded_;
  Histogram& cluster_handoff_;
  Counter& cluster_kv_handoffs_;
  Counter& cluster_kv_sent_bytes_;
  Counter& cluster_kv_imported_blocks_;
  Counter& cluster_kv_imported_bytes_;
  Gauge& node_price_;
  Counter& node_uptime_;
  Counter& node_cost_;
  Counter& model_cost_;
  Gauge& cost_per_million_;

  // Render's own state: scrapes may run at once.
  std::mutex render_mu_;
  std::set<std::string> models_seen_;  // GUARDED_BY(render_mu_)
  CostLedger cost_ledger_;              // GUARDED_BY(render_mu_): split at each scrape
};

}  // namespace hearth::daemon
