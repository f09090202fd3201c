// The worker as the model registry and the token-budget profile see it: each call runs on the
// engine loop's thread between two iterations (EngineLoop::RunOnWorker), so the engine loop is
// the one client of its worker and no call interleaves with a step. A load returns when the model
// is loaded, but the loop runs it in parts (EngineLoop::LoadOnWorker) and steps the worker's
// other models while the file is read.
#pragma once

#include <string>

#include "daemon/engine/engine_loop.h"
#include "daemon/worker/worker_process.h"

namespace hearth::daemon {

class LoopWorker final : public WorkerConnection {
 public:
  // `worker` is the loop's own (for the progress listener and the generation, which are not
  // calls to the process); both must outlive this.
  LoopWorker(EngineLoop* loop, WorkerConnection* worker) : loop_(loop), worker_(worker) {}

  StatusOr<wire::ModelInfo> LoadModel(const wire::LoadModelRequest& request) override;
  StatusOr<wire::StepReply> Step(const wire::StepRequest& request) override;
  Status UnloadModel(const std::string& name) override;
  StatusOr<wire::StagedInfo> StageModel(const wire::LoadModelRequest& request) override;
  void SetProgressListener(ProgressListener listener) override { worker_->SetProgressListener(std::move(listener)); }
  uint64_t generation() const override { return worker_->generation(); }

 private:
  EngineLoop* const loop_;
  WorkerConnection* const worker_;
};

}  // namespace hearth::daemon
