// A simulation scenario, parsed from JSON (docs/simulator.md, "Scenario file"): the fleet, the
// models, the arrivals, the spot events, the time model and the policies.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "scheduler/batch_scheduler.h"
#include "sim/time_model.h"

namespace hearth::sim {

struct NodeGroup {
  std::string name = "node";  // nodes are named name-0, name-1, ...
  int32_t count = 1;
  int32_t gpus = 1;                    // workers per node
  uint64_t gpu_memory_bytes = 0;       // the placement budget of each worker (weights + KV)
  uint64_t staged_bytes = 0;           // host memory for staged copies, per worker; 0: off
  bool spot = false;
  bool serves = true;                  // false: a router that holds no model (it still costs)
  double price_per_hour = 0;           // the whole node
};

struct ModelSpec {
  std::string name;
  uint64_t weight_bytes = 0;
  double params = 0;                   // for the roofline's FLOPs
  uint64_t kv_bytes_per_token = 0;     // the roofline's KV reads and KV transfers
  uint64_t kv_cache_bytes = 0;         // the KV pool it takes when warm (in the placement budget)
  double step_time_scale = 1;          // its profile step times are multiplied by this
};

struct ArrivalSpec {
  std::vector<std::string> traces;     // Azure trace paths; model i replays trace i % size
  double duration_s = 60;
  double rate = 1;                     // requests per second, all models
  double alpha = 1;
  double compression = 0;              // 0: one trace span over the run
  int32_t max_prompt_tokens = 0;       // 0: uncapped
  int32_t max_output_tokens = 0;
};

struct SpotSpec {
  std::string trace;                   // empty: no spot events
  double start_s = 0;                  // trace second at the run's start
  double compression = 1;
  double notice_s = 30;                // a removal is announced this long before (migrate)
  bool steps = false;                  // each fall/rise is one node (bench/spot), not scaled
};

enum class PlacementPolicy { kLru, kForecast };
enum class PreemptionPolicy { kRestart, kMigrate };

struct PolicySpec {
  PlacementPolicy placement = PlacementPolicy::kForecast;
  PreemptionPolicy preemption = PreemptionPolicy::kMigrate;
  double window_s = 300;               // the forecaster's window and the prewarm interval
  double period_s = 86400;
  int64_t balance_slack = 4;
  double slo_ttft_ms = 1000;
  double slo_tpot_ms = 200;
  double warmup_s = 0;                 // requests arriving before this are not counted
  // The leader's placement across nodes (homes and replica counts, pinned warm); at start-up,
  // and at every window under the forecast policy. Off: each node places on its own.
  bool cluster_placement = false;
  // Every node starts with its GPUs filled by the daemon's start-up fill (models in order).
  bool startup_fill = false;
};

struct TimeSpec {
  bool roofline = false;
  std::vector<ProfilePoint> profile;   // when !roofline
  RooflineParams roofline_params;
  TransferParams load;                 // disk -> device (cold load)
  TransferParams swap_in;              // host copy -> device
  TransferParams kv_transfer;          // node -> node (migration)
};

struct Scenario {
  uint64_t seed = 0;
  std::vector<NodeGroup> nodes;
  std::vector<ModelSpec> models;
  ArrivalSpec arrivals;
  SpotSpec spot;
  PolicySpec policy;
  TimeSpec time;
  scheduler::SchedulerConfig scheduler;
  uint64_t page_bytes = 1 << 20;
  int32_t max_models = 4096;
};

// InvalidArgument naming the field for anything missing, of the wrong type or out of range.
StatusOr<Scenario> ParseScenario(const std::string& json);
StatusOr<Scenario> LoadScenario(const std::string& path);

}  // namespace hearth::sim
