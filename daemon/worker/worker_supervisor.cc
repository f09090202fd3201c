#include "daemon/worker/worker_supervisor.h"

#include <algorithm>
#include <thread>

#include "common/log.h"

namespace hearth::daemon {

StatusOr<std::unique_ptr<SupervisedWorker>> SupervisedWorker::Start(std::string binary, std::vector<std::string> args,
                                                                    SupervisorOptions options,
                                                                    std::function<void()> on_restart) {
  std::unique_ptr<SupervisedWorker> w(
      new SupervisedWorker(std::move(binary), std::move(args), options, std::move(on_restart)));
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<WorkerProcess> first, WorkerProcess::Spawn(w->binary_, w->args_));
  first->SetLoadStallLimit(options.load_stall_limit);
  w->worker_ = std::move(first);
  return w;
}

std::shared_ptr<WorkerProcess> SupervisedWorker::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return worker_;
}

Status SupervisedWorker::AfterCall(const Status& st) {
  // The worker's own answer (Internal) leaves it as it is; anything else lost it.
  if (st.ok() || st.code() == Status::Code::kInternal) return st;
  Status restarted = Restart(st);
  return restarted.ok() ? st : restarted;
}

StatusOr<wire::LoadStatus> SupervisedWorker::BeginLoad(const wire::LoadModelRequest& request) {
  StatusOr<wire::LoadStatus> status = current()->BeginLoad(request);
  HEARTH_RETURN_IF_ERROR(AfterCall(status.status()));
  if (status.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    loading_[request.name] = {request, generation_};
  }
  return status;
}

StatusOr<std::shared_ptr<WorkerProcess>> SupervisedWorker::LoadingOn(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = loading_.find(name);
  if (it == loading_.end()) return Status::FailedPrecondition("no load of model '" + name + "' is in progress");
  if (it->second.generation != generation_) {
    loading_.erase(it);
    return Status::Unavailable("hearth-worker was restarted while model '" + name + "' loaded");
  }
  return worker_;
}

StatusOr<wire::LoadStatus> SupervisedWorker::PollLoad(const std::string& name) {
  HEARTH_ASSIGN_OR_RETURN(std::shared_ptr<WorkerProcess> worker, LoadingOn(name));
  StatusOr<wire::LoadStatus> status = worker->PollLoad(name);
  if (!status.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      loading_.erase(name);
    }
    return AfterCall(status.status());
  }
  return status;
}

StatusOr<wire::ModelInfo> SupervisedWorker::FinishLoad(const std::string& name) {
  HEARTH_ASSIGN_OR_RETURN(std::shared_ptr<WorkerProcess> worker, LoadingOn(name));
  StatusOr<wire::ModelInfo> info = worker->FinishLoad(name);
  if (!info.ok() && info.status().code() != Status::Code::kInternal) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      loading_.erase(name);
    }
    return AfterCall(info.status());
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = loading_.find(name);
  if (it == loading_.end()) return info;
  if (info.ok()) {
    std::erase_if(models_, [&](const wire::LoadModelRequest& m) { return m.name == name; });
    models_.push_back(it->second.request);
  }
  loading_.erase(it);
  return info;
}

Status SupervisedWorker::UnloadModel(const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase_if(models_, [&](const wire::LoadModelRequest& m) { return m.name == name; });
    loading_.erase(name);  // the worker ends the load
  }
  // A dead worker holds nothing: it is replaced without the model, and the unload is done.
  Status st = AfterCall(current()->UnloadModel(name));
  return st.ok() || st.code() == Status::Code::kInternal ? st : Status::Ok();
}

StatusOr<wire::StagedInfo> SupervisedWorker::StageModel(const wire::LoadModelRequest& request) {
  StatusOr<wire::StagedInfo> info = current()->StageModel(request);
  HEARTH_RETURN_IF_ERROR(AfterCall(info.status()));
  if (info.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    std::erase_if(models_, [&](const wire::LoadModelRequest& m) { return m.name == request.name; });
  }
  return info;
}

StatusOr<wire::KvBlocks> SupervisedWorker::ReadKvBlocks(const wire::KvBlocksRead& request) {
  StatusOr<wire::KvBlocks> blocks = current()->ReadKvBlocks(request);
  HEARTH_RETURN_IF_ERROR(AfterCall(blocks.status()));
  return blocks;
}

Status SupervisedWorker::WriteKvBlocks(const wire::KvBlocksWrite& request) {
  return AfterCall(current()->WriteKvBlocks(request));
}

StatusOr<wire::StepReply> SupervisedWorker::Step(const wire::StepRequest& request) {
  std::shared_ptr<WorkerProcess> worker = current();
  StatusOr<wire::StepReply> reply = worker->Step(request);
  if (reply.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    restarts_in_a_row_ = 0;
    return reply;
  }
  // An error the worker answered with (Internal) is the step's own. Anything else broke the
  // connection (EOF, a broken pipe, a garbled frame): that worker is lost, restart it.
  if (reply.status().code() == Status::Code::kInternal) return reply;
  Status restarted = Restart(reply.status());
  if (!restarted.ok()) return restarted;
  return reply.status();  // this step is lost; generation() tells the engine why
}

Status SupervisedWorker::Restart(const Status& why) {
  // A replacement that dies before it is ready (while it starts, or while it loads the models
  // again) is one more death in a row, not the end: try again until the bound.
  Status last = why;
  std::shared_ptr<WorkerProcess> dead = current();
  for (;;) {
    int attempt = 0;
    std::vector<wire::LoadModelRequest> models;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return last;
      if (restarts_in_a_row_ >= options_.max_restarts) {
        restarts_in_a_row_ = 0;  // the next request gets a fresh try
        return Status::Unavailable("hearth-worker keeps dying (restarted " + std::to_string(options_.max_restarts) +
                                   " times in a row): " + last.message());
      }
      attempt = restarts_in_a_row_++;
      models = models_;
    }
    const auto backoff = std::min(options_.max_backoff, options_.first_backoff * (1 << std::min(attempt, 16)));
    LogWarn("worker died; restarting")
        .Kv("error", last.ToString())
        .Kv("attempt", attempt + 1)
        .Kv("backoff_ms", static_cast<int64_t>(backoff.count()));
    std::this_thread::sleep_for(backoff);
    if (dead) dead->Stop(0);  // reap it
    StatusOr<std::unique_ptr<WorkerProcess>> fresh = WorkerProcess::Spawn(binary_, args_);
    if (!fresh.ok()) {
      last = fresh.status().WithContext("restarting hearth-worker");
      dead = nullptr;
      continue;
    }
    std::shared_ptr<WorkerProcess> candidate = std::move(fresh).value();
    candidate->SetLoadStallLimit(options_.load_stall_limit);
    {
      std::lock_guard<std::mutex> lock(mu_);
      candidate->SetProgressListener(listener_);
    }
    Status reloaded = Status::Ok();
    for (const wire::LoadModelRequest& m : models) {
      StatusOr<wire::ModelInfo> info = candidate->LoadModel(m);
      if (!info.ok()) {
        reloaded = info.status().WithContext("reloading model '" + m.name + "' on a restarted worker");
        break;
      }
    }
    // The worker's own answer (Internal) says the model cannot be loaded: another worker would
    // say the same. Anything else lost the worker: the next attempt reaps it.
    if (reloaded.code() == Status::Code::kInternal) {
      candidate->Stop(0);
      return reloaded;
    }
    if (!reloaded.ok()) {
      last = reloaded;
      dead = candidate;
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      worker_ = std::move(candidate);
      ++generation_;
      ++restarts_;
    }
    LogInfo("worker restarted").Kv("pid", pid()).Kv("models", models.size());
    if (on_restart_) on_restart_();
    return Status::Ok();
  }
}

void SupervisedWorker::SetProgressListener(ProgressListener listener) {
  std::shared_ptr<WorkerProcess> worker;
  {
    std::lock_guard<std::mutex> lock(mu_);
    listener_ = listener;
    worker = worker_;
  }
  worker->SetProgressListener(std::move(listener));
}

uint64_t SupervisedWorker::generation() const {
  std::lock_guard<std::mutex> lock(mu_);
  return generation_;
}

Status SupervisedWorker::Ping() { return current()->Ping(); }

void SupervisedWorker::Stop(int grace_ms) {
  std::shared_ptr<WorkerProcess> worker;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    worker = worker_;
  }
  if (worker) worker->Stop(grace_ms);
}

pid_t SupervisedWorker::pid() const { return current()->pid(); }

wire::WorkerHello SupervisedWorker::hello() const { return current()->hello(); }

int64_t SupervisedWorker::restarts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return restarts_;
}

}  // namespace hearth::daemon
