// Worker supervision (issue 6): hearth-worker is its own process, and when it dies (a crash,
// SIGKILL, out of memory) SupervisedWorker starts a new one with backoff and loads the same
// models again. The step that found the worker dead still fails, but generation() changes, and
// the engine loop, seeing that, recomputes every request's KV cache from its tokens instead of
// failing them: clients see a pause, not an error. A worker that dies again and again
// (max_restarts times without a step succeeding in between) is not restarted for that step,
// whose requests fail with a clear error. A worker that answers a step with an error of its own
// (Internal) is not restarted: that error is the step's. A replacement that dies while it
// starts or loads the models again counts as one more death toward the same bound.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "daemon/worker/worker_process.h"

namespace hearth::daemon {

struct SupervisorOptions {
  int max_restarts = 5;                          // in a row, without a good step
  std::chrono::milliseconds first_backoff{100};  // doubles with each restart in a row
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds load_stall_limit{120'000};  // WorkerProcess::SetLoadStallLimit
};

class SupervisedWorker final : public WorkerConnection {
 public:
  // Starts the first worker. `on_restart` (may be empty) runs after each restart.
  static StatusOr<std::unique_ptr<SupervisedWorker>> Start(std::string binary, std::vector<std::string> args,
                                                           SupervisorOptions options, std::function<void()> on_restart);

  // A load whose worker dies or is replaced before it finishes fails (Unavailable once
  // replaced); the replacement reloads only the models whose loads finished (FinishLoad records
  // each). A load, stage or unload that finds the worker dead restarts it then and there, as a
  // step does: with no model warm no step would run, and every later call would fail.
  StatusOr<wire::LoadStatus> BeginLoad(const wire::LoadModelRequest& request) override;
  StatusOr<wire::LoadStatus> PollLoad(const std::string& name) override;
  StatusOr<wire::ModelInfo> FinishLoad(const std::string& name) override;
  StatusOr<wire::StepReply> Step(const wire::StepRequest& request) override;
  // Also forgets the model, so that a restarted worker does not load it again.
  Status UnloadModel(const std::string& name) override;
  // Also forgets the model if it was warm: a restarted worker holds no staged copies, and the
  // registry's next load of the model reads its file.
  StatusOr<wire::StagedInfo> StageModel(const wire::LoadModelRequest& request) override;
  StatusOr<wire::KvBlocks> ReadKvBlocks(const wire::KvBlocksRead& request) override;
  Status WriteKvBlocks(const wire::KvBlocksWrite& request) override;
  // Kept for the workers that replace this one.
  void SetProgressListener(ProgressListener listener) override;
  uint64_t generation() const override;

  // As WorkerProcess's, for the current worker.
  Status Ping();
  void Stop(int grace_ms = 2000);
  pid_t pid() const;
  wire::WorkerHello hello() const;
  int64_t restarts() const;

 private:
  SupervisedWorker(std::string binary, std::vector<std::string> args, SupervisorOptions options,
                   std::function<void()> on_restart)
      : binary_(std::move(binary)), args_(std::move(args)), options_(options), on_restart_(std::move(on_restart)) {}
  std::shared_ptr<WorkerProcess> current() const;
  // The worker a load in progress runs on; Unavailable once that worker was replaced.
  StatusOr<std::shared_ptr<WorkerProcess>> LoadingOn(const std::string& name);
  // After a failed call: a new worker with the models loaded, unless the limit is reached.
  Status Restart(const Status& why);
  // After a call other than a step: a status that says the worker was lost (anything but its
  // own answer, Internal) restarts it, as a failed step does, so that a worker that dies while
  // it stages, loads or unloads is replaced even when no step runs. The call still fails with
  // `st` (or with the restart's error once the bound is reached).
  Status AfterCall(const Status& st);

  // Constant after Start().
  const std::string binary_;
  const std::vector<std::string> args_;
  const SupervisorOptions options_;
  const std::function<void()> on_restart_;

  mutable std::mutex mu_;
  std::shared_ptr<WorkerProcess> worker_;       // GUARDED_BY(mu_)
  std::vector<wire::LoadModelRequest> models_;  // GUARDED_BY(mu_): to load again
  struct Loading {
    wire::LoadModelRequest request;
    uint64_t generation = 0;  // of the worker it was begun on
  };
  std::map<std::string, Loading> loading_;      // GUARDED_BY(mu_): begun, not finished
  uint64_t generation_ = 0;                     // GUARDED_BY(mu_)
  int64_t restarts_ = 0;                        // GUARDED_BY(mu_)
  int restarts_in_a_row_ = 0;                   // GUARDED_BY(mu_)
  bool stopped_ = false;                        // GUARDED_BY(mu_)
  ProgressListener listener_;                   // GUARDED_BY(mu_)
};

}  // namespace hearth::daemon
