#include "daemon/ops/server_metrics.h"

#include <algorithm>
#include <map>
#include <vector>

namespace hearth::daemon {
namespace {

// Bucket bounds in seconds. Time to first token and end to end reach minutes on a CPU under
// load; the time per output token sits between a millisecond (GPU) and a second (big CPU model).
const std::vector<double> kQueueBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                           1,     2.5,    5,     10,   20,    40,   80,  160};
const std::vector<double> kTtftBuckets = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160};
const std::vector<double> kTpotBuckets = {0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08,
                                          0.1,   0.15,   0.2,   0.3,  0.5,  0.75, 1,    2.5};
const std::vector<double> kE2eBuckets = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640};
const std::vector<double> kLoadBuckets = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
const std::vector<double> kSwapBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
// A store commit: tens of microseconds without fsync, milliseconds with one, more on slow disks.
const std::vector<double> kCommitBuckets = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                            0.01,    0.025,  0.05,    0.1,    0.25,   1};

// Where a prewarm plan can put a model (hearth_model_planned_state's `state`).
constexpr const char* kPlannedStates[] = {"warm", "staged", "disk"};

void ObserveIfKnown(Histogram& h, const std::string& model, double seconds) {
  if (seconds >= 0) h.Observe({model}, seconds);
}

}  // namespace

const char* RequestStatus(const FinishEvent& event) {
  if (IsCompleted(event.finish_reason)) return "ok";
  if (event.finish_reason == FinishReason::kCancelled) return "cancelled";
  return "error";
}

ServerMetrics::ServerMetrics()
    : requests_(registry_.AddCounter("hearth_requests_total",
                                     "Requests that reached the engine or were turned away at submit, by outcome: "
                                     "ok, error, cancelled or rejected.",
                                     {"model", "status"})),
      rejected_(registry_.AddCounter("hearth_requests_rejected_total",
                                     "Requests refused at submit (429 or 503), by reason: queued_requests, "
                                     "queued_tokens, engine_queue or unavailable.",
                                     {"model", "reason"})),
      prompt_tokens_(
          registry_.AddCounter("hearth_prompt_tokens_total", "Prompt tokens of accepted requests.", {"model"})),
      generated_tokens_(registry_.AddCounter("hearth_generated_tokens_total",
                                             "Tokens generated and delivered (rate() gives tokens per second).",
                                             {"model"})),
      queue_time_(registry_.AddHistogram("hearth_request_queue_seconds",
                                         "Time from submit until the scheduler first gave the request tokens to run.",
                                         kQueueBuckets, {"model"})),
      ttft_(registry_.AddHistogram("hearth_time_to_first_token_seconds",
                                   "Time from submit until the first generated token.", kTtftBuckets, {"model"})),
      tpot_(registry_.AddHistogram("hearth_time_per_output_token_seconds",
                                   "Mean time between generated tokens, per request of two or more tokens.",
                                   kTpotBuckets, {"model"})),
      e2e_(registry_.AddHistogram("hearth_request_duration_seconds",
                                  "Time from submit until the request finished (any outcome).", kE2eBuckets,
                                  {"model"})),
      queued_requests_(registry_.AddGauge("hearth_queued_requests",
                                          "Requests waiting for their first token (the ones max_queued_requests "
                                          "limits).")),
      queued_tokens_(registry_.AddGauge("hearth_queued_prompt_tokens",
                                        "Prompt tokens of the queued requests (what max_queued_tokens limits).")),
      waiting_(registry_.AddGauge("hearth_waiting_sequences",
                                  "Requests in the model's scheduler but not running (new or preempted).", {"model"})),
      running_(
          registry_.AddGauge("hearth_running_sequences", "Sequences the model's scheduler is running.", {"model"})),
      requests_waiting_(registry_.AddGauge("hearth_num_requests_waiting",
                                           "Requests accepted and not running: waiting in the scheduler, or for "
                                           "their model to load (what a gateway reads as the queue).",
                                           {"model"})),
      requests_running_(
          registry_.AddGauge("hearth_num_requests_running", "Requests running (being computed).", {"model"})),
      kv_used_(registry_.AddGauge("hearth_kv_blocks_used", "KV cache blocks held by sequences.", {"model"})),
      kv_free_(registry_.AddGauge("hearth_kv_blocks_free",
                                  "KV cache blocks free to allocate (including cached prefix blocks).", {"model"})),
      kv_total_(registry_.AddGauge("hearth_kv_blocks_capacity", "KV cache blocks of the loaded model.", {"model"})),
      kv_usage_(registry_.AddGauge("hearth_kv_cache_usage_ratio",
                                   "KV cache blocks used / total, 0 to 1 (0 when the model is not loaded).",
                                   {"model"})),
      prefix_queried_(registry_.AddCounter("hearth_prefix_cache_queried_blocks_total",
                                           "Full prompt blocks looked up in the prefix cache.", {"model"})),
      prefix_hits_(registry_.AddCounter("hearth_prefix_cache_hit_blocks_total",
                                        "Prompt blocks found in the prefix cache (their prefill is skipped).",
                                        {"model"})),
      prefix_hit_ratio_(registry_.AddGauge("hearth_prefix_cache_hit_ratio",
                                           "Hit blocks / queried blocks since start (0 before any lookup).",
                                           {"model"})),
      tokens_per_second_(registry_.AddGauge("hearth_generation_tokens_per_second",
                                            "Tokens generated per second over the last few seconds.")),
      workers_up_(registry_.AddGauge("hearth_workers_up", "Worker processes running.")),
      worker_restarts_(registry_.AddCounter("hearth_worker_restarts_total", "Workers restarted after they died.")),
      models_loaded_(registry_.AddGauge("hearth_models_loaded", "Models loaded and served.")),
      model_loads_(registry_.AddCounter("hearth_model_loads_total", "Model loads, by outcome: ok or error.",
                                        {"model", "status"})),
      model_load_time_(registry_.AddHistogram("hearth_model_load_seconds",
                                              "Time to load a model on its worker, tokenizer included.", kLoadBuckets,
                                              {"model"})),
      model_load_bytes_(registry_.AddCounter("hearth_model_load_bytes_total",
                                             "Bytes of the weights of the models loaded.", {"model"})),
      model_swaps_(registry_.AddCounter("hearth_model_swaps_total",
                                        "Moves of a model between memories, by kind: stage (file to host copy), "
                                        "swap_in (host copy to the pool), swap_out (pool to host copy).",
                                        {"model", "kind"})),
      model_swap_time_(registry_.AddHistogram("hearth_model_swap_seconds", "Time of a stage, swap_in or swap_out.",
                                              kSwapBuckets, {"model", "kind"})),
      model_swap_bytes_(registry_.AddCounter("hearth_model_swap_bytes_total",
                                             "Bytes moved by stages, swap-ins and swap-outs.", {"model", "kind"})),
      model_evictions_(registry_.AddCounter("hearth_model_evictions_total",
                                            "Warm models unloaded to make room for another (docs/models.md).",
                                            {"model"})),
      model_cold_starts_(registry_.AddCounter("hearth_model_cold_starts_total",
                                              "Requests that waited for their model to load.", {"model"})),
      model_state_(registry_.AddGauge("hearth_model_state",
                                      "1 for each model's current state, 0 for the others: registered, staging, "
                                      "staged, loading, warm or unloading.",
                                      {"model", "state"})),
      prewarm_actions_(registry_.AddCounter("hearth_prewarm_actions_total",
                                            "Moves the prewarm plan made on its own (docs/models.md, \"Prewarm\"), "
                                            "by action: load, swap_in, stage, swap_out or unload; and outcome: done, "
                                            "cancelled (a request needed the memory) or failed.",
                                            {"model", "action", "outcome"})),
      prewarm_hits_(registry_.AddCounter("hearth_prewarm_hits_total",
                                         "Requests that found their model warm because a prewarm put it there.",
                                         {"model"})),
      prewarm_waste_(registry_.AddCounter("hearth_prewarm_waste_total",
                                          "Prewarmed models that left the pool before any request used them.",
                                          {"model"})),
      model_predicted_load_(registry_.AddGauge("hearth_model_predicted_load",
                                               "Requests in flight the forecast predicts for the next window, by "
                                               "stat: avg (time-weighted) or peak.",
                                               {"model", "stat"})),
      model_observed_load_(registry_.AddGauge("hearth_model_observed_load",
                                              "Requests in flight in the last closed window, by stat: avg "
                                              "(time-weighted) or peak.",
                                              {"model", "stat"})),
      model_score_(registry_.AddGauge("hearth_model_score",
                                      "The model's prewarm score (scheduler/prewarm.h): what having it warm is "
                                      "worth, cold-start seconds times the chance of a request in the next "
                                      "window; the highest are kept warm.",
                                      {"model"})),
      model_planned_state_(registry_.AddGauge("hearth_model_planned_state",
                                              "1 for where the last prewarm plan put the model, 0 for the others: "
                                              "warm, staged or disk (all 0 under policy lru or before a plan).",
                                              {"model", "state"})),
      store_commit_time_(registry_.AddHistogram("hearth_store_commit_seconds",
                                                "Time of each engine iteration's store commit (one transaction for "
                                                "all its tokens, with its fsync under synchronous = full).",
                                                kCommitBuckets)),
      store_commit_errors_(registry_.AddCounter("hearth_store_commit_errors_total",
                                                "Store commits that failed; the requests in each ended with the "
                                                "error (nothing of them was streamed).")),
      recovered_requests_(registry_.AddCounter("hearth_recovered_requests_total",
                                               "Unfinished requests resumed from the store at start.")),
      recovered_prefill_tokens_(registry_.AddCounter("hearth_recovered_prefill_tokens_total",
                                                     "Prompt and committed tokens of the resumed requests, which the "
                                                     "engine computes again (prefill) before they continue.")),
      build_info_(
          registry_.AddGauge("hearth_build_info", "1, labelled with the version of this hearthd.", {"version"})),
      process_cpu_(registry_.AddCounter("process_cpu_seconds_total", "User and system CPU time of hearthd.")),
      process_resident_(registry_.AddGauge("process_resident_memory_bytes", "Resident memory of hearthd.")),
      process_virtual_(registry_.AddGauge("process_virtual_memory_bytes", "Virtual memory of hearthd.")),
      process_start_time_(
          registry_.AddGauge("process_start_time_seconds", "Start time of hearthd since the Unix epoch.")),
      process_open_fds_(registry_.AddGauge("process_open_fds", "Open file descriptors of hearthd.")),
      process_max_fds_(registry_.AddGauge("process_max_fds", "hearthd's limit of open file descriptors.")),
      cluster_nodes_(registry_.AddGauge("hearth_cluster_nodes",
                                        "Nodes of the cluster this node sees in etcd, itself included (0 without a "
                                        "cluster).")),
      cluster_lease_held_(registry_.AddGauge("hearth_cluster_lease_held",
                                             "1 while this node holds its cluster lease (it takes routed work).")),
      cluster_etcd_reachable_(registry_.AddGauge("hearth_cluster_etcd_reachable",
                                                 "1 while etcd answers this node; 0 means degraded (it serves what "
                                                 "it hosts).")),
      cluster_etcd_errors_(registry_.AddCounter("hearth_cluster_etcd_errors_total",
                                                "etcd calls of this node's membership that failed.")),
      cluster_routed_(registry_.AddCounter("hearth_cluster_routed_requests_total",
                                           "Requests this node took as entry node, by where they went first: "
                                           "local (its own engine) or forwarded (a peer).",
                                           {"to"})),
      cluster_resubmitted_(registry_.AddCounter("hearth_cluster_resubmitted_requests_total",
                                                "Forwarded requests sent again, with their committed tokens, after "
                                                "their serving node died, left or gave them up.")),
      cluster_forward_failed_(registry_.AddCounter("hearth_cluster_forward_failures_total",
                                                   "Forwarded requests that ended in an error.")),
      cluster_open_forwarded_(registry_.AddGauge("hearth_cluster_forwarded_streams",
                                                 "Forwarded requests of this entry node not ended yet.")),
      cluster_handoff_(registry_.AddHistogram("hearth_cluster_handoff_seconds",
                                              "Time from a forwarded request losing its node (death, preemption, "
                                              "lease loss) to its next token from another node.",
                                              kTtftBuckets)),
      cluster_kv_handoffs_(registry_.AddCounter("hearth_cluster_kv_handoffs_total",
                                                "Forwarded requests this draining node handed over, by how they "
                                                "moved: with their KV blocks (transfer) or to be recomputed.",
                                                {"move"})),
      cluster_kv_sent_bytes_(registry_.AddCounter("hearth_cluster_kv_sent_bytes_total",
                                                  "KV block bytes this node sent to the nodes taking its requests.")),
      cluster_kv_imported_blocks_(registry_.AddCounter("hearth_cluster_kv_imported_blocks_total",
                                                       "KV blocks of other nodes' requests imported into this "
                                                       "node's prefix cache.")),
      cluster_kv_imported_bytes_(registry_.AddCounter("hearth_cluster_kv_imported_bytes_total",
                                                      "Bytes of those blocks.")),
      node_price_(registry_.AddGauge("hearth_node_price_dollars_per_hour",
                                     "This node's price per hour ([cluster] price_per_hour; 0 without one).")),
      node_uptime_(registry_.AddCounter("hearth_node_uptime_seconds_total",
                                        "Time hearthd has run on this node (divided by 3600: its node-hours).")),
      node_cost_(registry_.AddCounter("hearth_node_cost_dollars_total",
                                      "This node's cost since hearthd started: its price per hour times its "
                                      "hours.")),
      model_cost_(registry_.AddCounter("hearth_model_cost_dollars_total",
                                       "The node's cost given to each model by its generated tokens, interval by "
                                       "interval between scrapes (docs/cluster.md, \"What it costs\").",
                                       {"model"})),
      cost_per_million_(registry_.AddGauge("hearth_cost_per_million_tokens_dollars",
                                           "This node's cost so far per million tokens it generated (0 before "
                                           "the first).")) {}

void ServerMetrics::RequestSubmitted(const std::string& model, int64_t prompt_tokens) {
  prompt_tokens_.Inc({model}, static_cast<double>(prompt_tokens));
}

void ServerMetrics::RequestRejected(const std::string& model, const std::string& reason) {
  requests_.Inc({model, "rejected"});
  rejected_.Inc({model, reason});
}

void ServerMetrics::RequestFinished(const std::string& model, const FinishEvent& event) {
  requests_.Inc({model, RequestStatus(event)});
  ObserveIfKnown(queue_time_, model, event.latency.queue_s);
  ObserveIfKnown(ttft_, model, event.latency.time_to_first_token_s);
  ObserveIfKnown(tpot_, model, event.latency.time_per_output_token_s);
  ObserveIfKnown(e2e_, model, event.latency.end_to_end_s);
}

void ServerMetrics::ModelLoaded(const std::string& model, double seconds, bool ok, uint64_t bytes) {
  model_loads_.Inc({model, ok ? "ok" : "error"});
  if (!ok) return;
  model_load_time_.Observe({model}, seconds);
  model_load_bytes_.Inc({model}, static_cast<double>(bytes));
}

void ServerMetrics::ModelSwapped(const std::string& model, const std::string& kind, double seconds, uint64_t bytes) {
  model_swaps_.Inc({model, kind});
  model_swap_time_.Observe({model, kind}, seconds);
  model_swap_bytes_.Inc({model, kind}, static_cast<double>(bytes));
}

void ServerMetrics::ModelEvicted(const std::string& model) { model_evictions_.Inc({model}); }

void ServerMetrics::ModelColdStart(const std::string& model) { model_cold_starts_.Inc({model}); }

void ServerMetrics::SetModelState(const std::string& model, const std::string& state) {
  for (const char* s : {"registered", "staging", "staged", "loading", "warm", "unloading"}) model_state_.Set({model, s}, state == s ? 1 : 0);
}

void ServerMetrics::PrewarmAction(const std::string& model, const std::string& action, const std::string& outcome) {
  prewarm_actions_.Inc({model, action, outcome});
}

void ServerMetrics::PrewarmHit(const std::string& model) { prewarm_hits_.Inc({model}); }

void ServerMetrics::PrewarmWasted(const std::string& model) { prewarm_waste_.Inc({model}); }

void ServerMetrics::SetModelForecast(const std::string& model, double predicted_avg, double predicted_peak,
                                     double observed_avg, double observed_peak, double score,
                                     const std::string& planned_state) {
  model_predicted_load_.Set({model, "avg"}, predicted_avg);
  model_predicted_load_.Set({model, "peak"}, predicted_peak);
  model_observed_load_.Set({model, "avg"}, observed_avg);
  model_observed_load_.Set({model, "peak"}, observed_peak);
  model_score_.Set({model}, score);
  for (const char* s : kPlannedStates) model_planned_state_.Set({model, s}, planned_state == s ? 1 : 0);
}

void ServerMetrics::WorkerRestarted() { worker_restarts_.Inc(); }

void ServerMetrics::SetBuildInfo(const std::string& version) { build_info_.Set({version}, 1); }

void ServerMetrics::StoreCommitted(double seconds) { store_commit_time_.Observe(seconds); }

void ServerMetrics::Handoff(double seconds) { cluster_handoff_.Observe(seconds); }

void ServerMetrics::KvHandedOver(bool transfer, uint64_t bytes) {
  cluster_kv_handoffs_.Inc({transfer ? "transfer" : "recompute"});
  cluster_kv_sent_bytes_.Inc({}, static_cast<double>(bytes));
}

void ServerMetrics::KvImported(int32_t blocks, uint64_t bytes) {
  cluster_kv_imported_blocks_.Inc({}, blocks);
  cluster_kv_imported_bytes_.Inc({}, static_cast<double>(bytes));
}

void ServerMetrics::StoreCommitFailed() { store_commit_errors_.Inc(); }

void ServerMetrics::Recovered(int64_t requests, int64_t prefill_tokens) {
  recovered_requests_.Inc({}, static_cast<double>(requests));
  recovered_prefill_tokens_.Inc({}, static_cast<double>(prefill_tokens));
}

std::string ServerMetrics::Render(const LiveState& live) {
  std::lock_guard<std::mutex> lock(render_mu_);
  std::map<std::string, ModelEngineStats> models = live.engine.models;
  for (const std::string& name : live.models) models.try_emplace(name);
  for (const std::string& name : models_seen_) {
    // Gone: its gauges go to 0, the ones the forecast sets included.
    if (models.try_emplace(name).second) SetModelForecast(name, 0, 0, 0, 0, 0, "");
  }
  for (const auto& [name, m] : models) {
    models_seen_.insert(name);
    const LabelValues model = {name};
    // Present from the first scrape, at 0 until the forecast or the prewarm says otherwise (Add
    // keeps what is set), so that ratios and rates over them have a series to start from.
    prewarm_hits_.Inc(model, 0);
    prewarm_waste_.Inc(model, 0);
    model_score_.Add(model, 0);
    for (const char* stat : {"avg", "peak"}) {
      model_predicted_load_.Add({name, stat}, 0);
      model_observed_load_.Add({name, stat}, 0);
    }
    for (const char* s : kPlannedStates) model_planned_state_.Add({name, s}, 0);
    const auto used = static_cast<double>(m.kv_blocks_total - m.kv_blocks_free);
    generated_tokens_.SetTotal(model,
                               std::max(generated_tokens_.Value(model), static_cast<double>(m.tokens_generated)));
    waiting_.Set(model, static_cast<double>(m.num_waiting));
    running_.Set(model, static_cast<double>(m.num_running));
    requests_waiting_.Set(model, static_cast<double>(m.num_waiting + m.num_waiting_for_model));
    requests_running_.Set(model, static_cast<double>(m.num_running));
    kv_used_.Set(model, used);
    kv_free_.Set(model, static_cast<double>(m.kv_blocks_free));
    kv_total_.Set(model, static_cast<double>(m.kv_blocks_total));
    kv_usage_.Set(model, m.kv_blocks_total > 0 ? used / static_cast<double>(m.kv_blocks_total) : 0.0);
    // A model loaded again starts its block pool's counts from 0: follow, never go down.
    prefix_queried_.FollowTotal(model, static_cast<double>(m.prefix_cache_queried_blocks));
    prefix_hits_.FollowTotal(model, static_cast<double>(m.prefix_cache_hit_blocks));
    const double queried = prefix_queried_.Value(model);
    prefix_hit_ratio_.Set(model, queried > 0 ? prefix_hits_.Value(model) / queried : 0.0);
  }
  RenderCost(live, models);
  queued_requests_.Set(static_cast<double>(live.queue.requests));
  queued_tokens_.Set(static_cast<double>(live.queue.tokens));
  tokens_per_second_.Set(live.tokens_per_second);
  workers_up_.Set(static_cast<double>(live.workers_up));
  models_loaded_.Set(static_cast<double>(live.models_loaded));
  if (live.cluster) {
    cluster_nodes_.Set(static_cast<double>(live.cluster->nodes));
    cluster_lease_held_.Set(live.cluster->lease_held ? 1 : 0);
    cluster_etcd_reachable_.Set(live.cluster->etcd_reachable ? 1 : 0);
    cluster_etcd_errors_.SetTotal({}, static_cast<double>(live.cluster->etcd_errors));
    cluster_routed_.SetTotal({"local"}, static_cast<double>(live.cluster->routed_local));
    cluster_routed_.SetTotal({"forwarded"}, static_cast<double>(live.cluster->forwarded));
    cluster_resubmitted_.SetTotal({}, static_cast<double>(live.cluster->resubmitted));
    cluster_forward_failed_.SetTotal({}, static_cast<double>(live.cluster->forward_failed));
    cluster_open_forwarded_.Set(static_cast<double>(live.cluster->open_forwarded));
  }
  if (live.process) {
    const ProcessSample& p = *live.process;
    process_cpu_.SetTotal({}, p.cpu_seconds);
    process_resident_.Set(p.resident_bytes);
    process_virtual_.Set(p.virtual_bytes);
    process_start_time_.Set(p.start_time_seconds);
    process_open_fds_.Set(p.open_fds);
    process_max_fds_.Set(p.max_fds);
  }
  return registry_.Render();
}

void ServerMetrics::RenderCost(const LiveState& live, const std::map<std::string, ModelEngineStats>& models) {
  std::map<std::string, double> tokens;
  NodeCost cost{live.price_per_hour, live.uptime_seconds, 0};
  for (const auto& [name, m] : models) {
    tokens[name] = generated_tokens_.Value({name});
    cost.tokens_generated += tokens[name];
  }
  cost_ledger_.Update(cost.dollars(), tokens);
  node_price_.Set(live.price_per_hour);
  node_uptime_.SetTotal({}, std::max(node_uptime_.Value(), live.uptime_seconds));
  node_cost_.SetTotal({}, cost_ledger_.node_dollars());
  for (const auto& [name, dollars] : cost_ledger_.models()) model_cost_.SetTotal({name}, dollars);
  cost_per_million_.Set(cost.per_million_tokens());
}

}  // namespace hearth::daemon
