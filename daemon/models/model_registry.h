// The model registry and its placement on the worker (issue 8; docs/models.md): every model
// hearthd knows by name, whether it is warm on the worker, and the loads and evictions that
// keep the models requests ask for warm within [workers] memory_budget_bytes.
//
// Reactive placement: a request for a registered model that is not warm loads it while the
// request waits (PlacingEngine::Submit). What to load, evict, swap out, drop or drain is
// decided by scheduler/placement.h from a view of the entries built under mu_; the registry
// runs the plan's actions with the worker and the engine. When nothing can make room, the
// request waits up to wait_for_room (a drained model's requests finish meanwhile), and then
// fails Unavailable (503 with Retry-After).
//
// States: registered -> [staging -> staged] -> loading -> warm -> unloading -> staged or
// registered. A staged model has a host copy on the worker, from which it swaps in at memory
// speed; with [workers] staged_budget_bytes set, an evicted model is swapped out to staged
// (room made by dropping the least recently used staged copies), not unloaded.
//
// Threads: HTTP handlers and the engine's sinks call in; mu_ guards every entry, and is never
// held across a call into the worker or the engine (a sink calls Release under the engine's
// loop, which an engine call may wait for). So a plan's first action that calls the worker
// runs, and the next decision is planned again from what the entries say then. A cold load
// reads its file while the worker steps its other models (EngineLoop::LoadOnWorker); stages
// from a file and unloads pause the other models' steps for their length.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "daemon/engine/engine.h"
#include "daemon/engine/engine_loop.h"
#include "daemon/models/model_control.h"
#include "daemon/ops/server_metrics.h"
#include "daemon/worker/worker_process.h"
#include "model/tokenizer.h"
#include "scheduler/placement.h"
#include "store/model_store.h"

namespace hearth::daemon {

struct ModelRegistryOptions {
  uint64_t memory_budget_bytes = 0;                // weights + KV caches of warm models; 0: no limit
  uint64_t staged_budget_bytes = 0;                // host copies of staged models; 0: no staging
  std::chrono::milliseconds wait_for_room{60000};  // a request waits this long for room
  int32_t token_budget = 0;                        // tokens per step; 0: measured at a model's first load
  double target_step_ms = 100;                     // the measurement's target
  // [placement] policy "forecast": the forecast's scores rank what is evicted for room (lowest
  // first, then least recently used), and PrewarmStep runs. "lru": scores are shown, never used.
  bool forecast_placement = false;
  // A warm model used this recently is not evicted by a prewarm (a request for it just came:
  // load that is here beats load that is forecast); requests still evict it. 0: no protection.
  std::chrono::milliseconds prewarm_keeps_recent{0};
};

// What the prewarmer reads of a model to score it (scheduler/prewarm.h).
struct PlacementInput {
  std::string name;
  uint64_t file_bytes = 0;         // what a cold load reads
  bool staged = false;             // a worker holds its host copy
  uint64_t staged_bytes = 0;       // that copy
  double load_bytes_per_s = 0;     // measured on its worker (or the workers' mean; a default until measured)
  double swap_in_bytes_per_s = 0;  // likewise, for swap-ins from a staged copy
};

// The forecast of a model, as the prewarmer made it.
struct ModelForecast {
  std::string name;
  double predicted_avg = 0, predicted_peak = 0;  // next window
  double predicted_arrivals = 0;                 // requests expected in the next window
  double observed_avg = 0, observed_peak = 0;    // the last closed window
  double score = 0;                              // scheduler::ModelScore
  int32_t batch_size = 0;                        // the replicas' batch size
};

// One worker as the registry reaches it: its calls (through its engine loop, LoopWorker) and
// the engine loop that serves its models. Each worker has its own pool (memory_budget_bytes)
// and host budget (staged_budget_bytes).
struct RegistryWorker {
  WorkerConnection* calls = nullptr;
  EngineLoop* engine = nullptr;
};

class ModelRegistry final : public ModelControl {
 public:
  // All but `store` and `metrics` (null: none) must outlive the registry; at least one worker.
  ModelRegistry(std::vector<RegistryWorker> workers, store::ModelStore* store, ServerMetrics* metrics,
                ModelRegistryOptions options);
  ModelRegistry(WorkerConnection* worker, EngineLoop* engine, store::ModelStore* store, ServerMetrics* metrics,
                ModelRegistryOptions options)
      : ModelRegistry(std::vector<RegistryWorker>{{worker, engine}}, store, metrics, options) {}
  ~ModelRegistry() override;

  // At start: registers the configured models (source "config"), then the stored ones whose
  // names the configuration does not use; then loads them in that order while the budget
  // holds them. A configured model that cannot be read or loaded fails the start; a stored one
  // stays registered, with its error.
  Status Start(const std::map<std::string, std::string>& configured);

  // For PlacingEngine: the tokenizer of any registered model (valid until the registry dies),
  // and its context length.
  const model::Tokenizer* tokenizer(const std::string& name) const;
  int32_t context_length(const std::string& name) const;
  // Makes the model warm and counts one request on it until Release(): a model with counted
  // requests is never evicted. `cold` tells whether it had to be loaded.
  // `engine` (may be null) is set to the engine loop of the worker that holds it.
  Status Acquire(const std::string& name, bool* cold, EngineLoop** engine = nullptr);
  // As Acquire when the model is warm now (true); false, counting nothing, when it is not.
  bool TryAcquireWarm(const std::string& name, EngineLoop** engine = nullptr);
  // Counts `n` more requests on a model the caller has acquired and not released (it is warm
  // and cannot leave memory meanwhile, even while it drains for another model's load): the
  // requests that waited for its load together.
  void AcquireMore(const std::string& name, int64_t n);
  // Every worker's engine loop, by worker index.
  std::vector<EngineLoop*> engines() const;
  // What a request for the model would be refused for at once, without waiting: NotFound
  // (not registered), InvalidArgument (its file cannot be used, or it is larger than the whole
  // memory budget). Ok when a load can place it, perhaps after waiting for room.
  Status CheckPlaceable(const std::string& name);
  void Release(const std::string& name);
  // Stop() was called.
  bool stopping() const;
  int64_t num_warm() const;
  // Ends every wait for room or for a load at once (hearthd is stopping).
  void Stop();

  // ModelControl.
  std::vector<ModelStatus> List() override;
  StatusOr<ModelStatus> Add(const std::string& name, const std::string& path, bool pinned) override;
  Status Remove(const std::string& name, bool force) override;
  StatusOr<ModelStatus> Load(const std::string& name) override;
  StatusOr<ModelStatus> Unload(const std::string& name, bool force) override;
  StatusOr<ModelStatus> Stage(const std::string& name, bool force) override;
  StatusOr<ModelStatus> SetPinned(const std::string& name, bool pinned) override;

  // Placement by forecast (docs/models.md, "Prewarm"). The models the prewarmer scores (those
  // that can be read), with the measured speeds of the workers.
  std::vector<PlacementInput> PlacementInputs() const;
  // Records each model's forecast and score (shown in List and /metrics; under policy
  // forecast, the scores rank eviction victims). Models not named keep theirs.
  void SetForecasts(const std::vector<ModelForecast>& forecasts);
  // Plans each worker's pool and staged budget by score (scheduler::PlanPrewarm) and runs the
  // first action of the first worker with one: an eviction or a dropped copy, a load or swap-in
  // (cancelled as soon as a request waits for a load), or a stage. False, running nothing,
  // when there is nothing to do, a request waits for a load (requests come first), the policy
  // is lru, or hearthd is stopping; also false after an action that was cancelled or failed
  // (the pass ends: the next one plans again). The caller calls again to run the next action.
  bool PrewarmStep();

 private:
  // The planner's states (kOnDisk: registered), so that the view is not a conversion.
  using State = scheduler::ModelState;
  struct Entry {
    std::string name;
    std::string path;
    std::string source;
    bool pinned = false;
    int64_t added_at = 0;
    std::shared_ptr<const model::Tokenizer> tokenizer;
    int32_t context_length = 0;
    uint64_t file_bytes = 0;
    State state = State::kOnDisk;
    uint64_t bytes = 0;        // as the worker reported at the last load; 0: never loaded
    int32_t token_budget = 0;  // measured at the first load
    int64_t active = 0;        // requests between Acquire and Release
    // A load waits for this model's requests to end, to evict it: new ones wait too, so that a
    // steady stream of them cannot starve the load.
    bool draining = false;
    std::chrono::steady_clock::time_point last_used_at{};
    int64_t last_used_unix = 0;
    int64_t loads = 0;
    double last_load_seconds = 0;
    int64_t evictions = 0;
    int waiting_loads = 0;      // LoadLocked calls for it: its staged copy is not dropped for room
    bool staged = false;        // the worker holds a host copy
    uint64_t staged_bytes = 0;  // its size
    int64_t swap_ins = 0;
    int64_t swap_outs = 0;
    double last_swap_in_seconds = 0;
    uint64_t progress_done = 0, progress_total = 0;  // of the current load or stage
    int worker = -1;                                 // the worker that holds it (loading, warm, staged, ...); -1: none
    std::string last_error;
    bool removed = false;
    // Placement by forecast.
    ModelForecast forecast;      // name empty: none yet
    std::string planned_state;   // where the last prewarm plan put it; empty: none
    bool prewarmed = false;      // a prewarm made it warm, and no request has used it since
    std::shared_ptr<std::atomic<bool>> prewarm_cancel;  // set while a prewarm loads it
    int64_t prewarm_actions = 0, prewarm_hits = 0, prewarm_waste = 0;
  };
  // A worker's measured speeds (bytes per second of file read or of staged copy swapped in).
  struct Speeds {
    double load = 0, swap_in = 0;  // 0: not measured yet
  };
  using Lock = std::unique_lock<std::mutex>;

  // Reads the tokenizer and the trained context from the file: InvalidArgument naming the
  // problem when it cannot.
  static StatusOr<std::shared_ptr<Entry>> ReadModel(const std::string& name, const std::string& path);
  std::shared_ptr<Entry> Find(const std::string& name) const;  // REQUIRES(mu_)
  ModelStatus StatusOf(const Entry& e) const;                  // REQUIRES(mu_)
  uint64_t EstimateBytes(const Entry& e) const;                // REQUIRES(mu_)
  bool Busy(const Entry& e) const;                             // REQUIRES(mu_)
  // What the planner sees of worker `w`: the models it holds, and those no worker holds.
  scheduler::WorkerView ViewLocked(int w) const;  // REQUIRES(mu_)
  // Where `e` (held by no worker) should go to be warm (stage: to be staged): the worker whose
  // plan needs the fewest changes (a load alone, then evictions, then a wait), then the one
  // with the most free pages.
  int ChooseWorkerLocked(const Entry& e, bool stage) const;  // REQUIRES(mu_)
  // Loads `e` (registered or staged) as PlanWarm says, evicting for room; waits for room until
  // `deadline`. Called and returns with `lock` held.
  Status LoadLocked(Lock& lock, const std::shared_ptr<Entry>& e, std::chrono::steady_clock::time_point deadline);
  // Puts `e` (registered or staged, with room for it) in the worker's pool and the engine.
  // Called and returns with `lock` held.
  // With `cancel`, a prewarm's load: it goes through the engine loop's cancellable load, and a
  // cancelled one leaves `e` as it was, with no error. Called and returns with `lock` held.
  Status RunLoadLocked(Lock& lock, const std::shared_ptr<Entry>& e, int w,
                       std::shared_ptr<std::atomic<bool>> cancel = nullptr);
  // A request counted on `e`, warm: a prewarm that put it there scores a hit.
  void CountUseLocked(Entry& e);  // REQUIRES(mu_)
  // `e` leaves the pool: a prewarm that put it there and no request used is waste.
  void CountLeavingPoolLocked(Entry& e);  // REQUIRES(mu_)
  // Runs one prewarm action on worker `w`: false when it was cancelled or failed.
  bool RunPrewarmActionLocked(Lock& lock, const scheduler::Action& action, int w);
  void PublishForecastLocked(const Entry& e);  // REQUIRES(mu_)
  // Runs a planned eviction or drop (kSwapOut or kUnload of another model) made for `for_name`.
  void RunRoomStepLocked(Lock& lock, const scheduler::Action& step, const std::string& for_name);
  // Unloads `e` (warm or staged) from the worker, staged copy and all; `why` ends its requests,
  // if any. Called and returns with `lock` held.
  void UnloadLocked(Lock& lock, const std::shared_ptr<Entry>& e, const Status& why, bool eviction);
  // Swaps `e` (warm; no requests unless `why` ends them; staging has room for its copy) out to
  // staged. Called and returns with `lock` held.
  void SwapOutLocked(Lock& lock, const std::shared_ptr<Entry>& e, const Status& why, bool eviction);
  // Stages `e` (registered) as PlanStage says; InvalidArgument when staging is off,
  // ResourceExhausted when it has no room.
  Status StageLocked(Lock& lock, const std::shared_ptr<Entry>& e);
  // Waits for a change (a Release, a state change) or a short poll: the engine's own counts of
  // a model's requests change without a notification. False at the deadline or when stopping.
  bool WaitForChange(Lock& lock, std::chrono::steady_clock::time_point deadline);
  // Waits until `e` is neither loading nor unloading; false at the deadline.
  bool WaitSettled(Lock& lock, const std::shared_ptr<Entry>& e, std::chrono::steady_clock::time_point deadline);
  Status Persist(const Entry& e);  // REQUIRES(mu_)
  void PublishStates();            // REQUIRES(mu_)

  // Constant after construction.
  const std::vector<RegistryWorker> workers_;
  store::ModelStore* const store_;
  ServerMetrics* const metrics_;
  const ModelRegistryOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;                             // any state change, any Release
  std::map<std::string, std::shared_ptr<Entry>> entries_;  // GUARDED_BY(mu_)
  std::vector<Speeds> speeds_;                             // GUARDED_BY(mu_), by worker
  bool stopping_ = false;                                  // GUARDED_BY(mu_)
  // Tokenizers of removed models: tokenizer() handed out pointers to them.
  std::vector<std::shared_ptr<const model::Tokenizer>> retired_;  // GUARDED_BY(mu_)
};

}  // namespace hearth::daemon
