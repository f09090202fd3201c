// Placement by forecast (docs/models.md, "Prewarm"): a thread that, every interval, forecasts
// each model's load for the next window from its history (LoadRecorder), scores it
// (scheduler::ModelScore: its cold start, at the batch size measured for it, times the chance
// a request comes), hands the forecasts to the registry and, under policy forecast, runs the
// registry's prewarm plan one action at a time (ModelRegistry::PrewarmStep), leaving off while
// a request waits for a load. Under policy lru the forecasts are made and shown, nothing runs.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/engine/engine.h"
#include "daemon/models/load_recorder.h"
#include "daemon/models/model_registry.h"

namespace hearth::daemon {

struct PrewarmerOptions {
  bool run_plans = true;                         // policy forecast; false: lru (forecast only)
  std::chrono::milliseconds interval{1000};      // between two passes
  int32_t batch_size = 0;                        // requests one warm copy serves at once; 0: measured
  int max_actions_per_pass = 16;                 // a pass ends sooner when the plan is done
};

class Prewarmer {
 public:
  // All must outlive the prewarmer. `stats` gives each model's running requests (the batch
  // size measured is the most that ran at once).
  Prewarmer(ModelRegistry* registry, LoadRecorder* load, std::function<EngineStats()> stats,
            PrewarmerOptions options);
  ~Prewarmer();  // Stop()

  void Start();
  void Stop();  // safe to call twice
  // One pass, on the caller's thread: forecasts, then the plan's actions.
  void RunOnce();

 private:
  // The forecasts, made again when a window has closed since the last ones (or a model is new).
  std::vector<ModelForecast> Forecasts();

  // Constant after construction.
  ModelRegistry* const registry_;
  LoadRecorder* const load_;
  const std::function<EngineStats()> stats_;
  const PrewarmerOptions options_;

  // The pass's own (one pass at a time: pass_mu_).
  std::mutex pass_mu_;
  std::map<std::string, int32_t> most_running_;      // GUARDED_BY(pass_mu_)
  std::map<std::string, ModelForecast> forecasts_;   // GUARDED_BY(pass_mu_)
  int64_t forecast_window_ = -1;                     // GUARDED_BY(pass_mu_): the open window they predict

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace hearth::daemon
