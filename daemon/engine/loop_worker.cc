#include "daemon/engine/loop_worker.h"

namespace hearth::daemon {
namespace {

// Runs `call` on the loop thread and hands back its value.
template <typename T, typename Call>
StatusOr<T> OnLoop(EngineLoop* loop, Call call) {
  StatusOr<T> out = Status::Internal("the engine loop did not run the call");
  Status ran = loop->RunOnWorker([&](WorkerConnection& worker) {
    out = call(worker);
    return out.status();
  });
  if (!ran.ok() && out.ok()) return ran;
  return out;
}

}  // namespace

StatusOr<wire::ModelInfo> LoopWorker::LoadModel(const wire::LoadModelRequest& request) {
  return loop_->LoadOnWorker(request);  // the loop steps the other models while the file is read
}

StatusOr<wire::StepReply> LoopWorker::Step(const wire::StepRequest& request) {
  return OnLoop<wire::StepReply>(loop_, [&](WorkerConnection& w) { return w.Step(request); });
}

Status LoopWorker::UnloadModel(const std::string& name) {
  return loop_->RunOnWorker([&](WorkerConnection& w) { return w.UnloadModel(name); });
}

StatusOr<wire::StagedInfo> LoopWorker::StageModel(const wire::LoadModelRequest& request) {
  return OnLoop<wire::StagedInfo>(loop_, [&](WorkerConnection& w) { return w.StageModel(request); });
}

}  // namespace hearth::daemon
