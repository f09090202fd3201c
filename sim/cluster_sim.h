// The discrete-event simulation of a Hearth cluster. Every GPU runs Hearth's real BatchScheduler
// (and so its BlockPool) step by step; requests are routed by the real ChooseRoute; models are
// placed on a GPU by the real PlanWarm and prewarmed by the real forecaster, ModelScore and
// PlanPrewarm; a spot node's work moves by the real PlanMigration. Only the forward pass (a step
// takes what the time model says, and samples a token that is never end-of-text), the clock and
// the network (transfers take bytes over bandwidth) are modelled. Single-threaded and
// deterministic: the same scenario and arrivals give the same result.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "sim/scenario.h"
#include "sim/trace.h"

namespace hearth::sim {

// What happened to one request.
struct RequestOutcome {
  int32_t model = 0;
  int64_t arrival_ns = 0;
  int64_t first_token_ns = -1;  // -1: never got one
  int64_t last_token_ns = -1;
  int64_t finished_ns = -1;     // -1: lost (or unfinished at the end)
  int32_t delivered = 0;        // tokens the client received (regenerated ones not twice)
  int32_t output_tokens = 0;    // what it asked for
  bool cold_start = false;      // waited for a load from disk
  bool swap_in = false;         // waited for a swap-in from a staged copy
  int32_t restarts = 0;         // cut by a preemption and generated again from its prompt
  int32_t migrations = 0;       // moved with its committed tokens
};

struct SimCounters {
  int64_t events = 0;
  int64_t steps = 0;
  int64_t scheduled_tokens = 0;
  int64_t loads = 0;       // from disk
  int64_t swap_ins = 0;
  int64_t evictions = 0;   // swap-outs and unloads
  int64_t prewarm_actions = 0;
  int64_t preemptions = 0;  // spot nodes taken back
  int64_t migrated_models = 0;
  int64_t scheduler_preemptions = 0;  // sequences the batch scheduler preempted for KV room
  double gpu_hours = 0;
  double busy_gpu_hours = 0;
  double cost = 0;
};

struct CostPoint {
  int64_t at_ns = 0;
  double cost = 0;      // dollars so far
  int32_t nodes = 0;    // alive at that time
};

struct SimResult {
  std::vector<RequestOutcome> requests;  // in arrival order
  SimCounters counters;
  std::vector<CostPoint> cost_over_time;
  int64_t end_ns = 0;
  // Events the simulator handled (not in the report): decode runs make them fewer than
  // counters.events, which counts every step as the step-by-step simulation does.
  int64_t handled_events = 0;
};

// Called now and then with the simulated time reached and the end of arrivals.
using ProgressFn = std::function<void(int64_t now_ns, int64_t horizon_ns)>;

struct RunOptions {
  // Every step of every GPU is an event of its own. By default a GPU whose next steps are plain
  // decodes of an unchanging batch (BatchScheduler::PlainDecodeSteps) takes them as one event,
  // applied when they end or when something touches the GPU first; the report is the same byte
  // for byte (cluster_sim_test compares them), only faster to compute.
  bool step_by_step = false;
};

// Runs the scenario over `arrivals`, with the fleet's spot nodes following `spot` (starting with
// `initial_spot` of them up). The run ends when every request has finished or is lost, or at the
// arrivals' end plus a drain limit (ten minutes of simulated time).
StatusOr<SimResult> RunSimulation(const Scenario& scenario, const std::vector<SimArrival>& arrivals,
                                  const std::vector<SpotChange>& spot, int32_t initial_spot,
                                  const ProgressFn& progress = nullptr, const RunOptions& options = {});

}  // namespace hearth::sim
