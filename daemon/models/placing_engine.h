// The Engine the routes see (docs/models.md): a request for a warm model goes to the engine
// loop at once; a request for a model that is not warm is accepted, waits in its model's queue
// (state "loading") while a thread of this engine has the registry make the model warm, and is
// submitted when it is. No caller of Submit ever waits for a load. Each request is counted on
// its model until it finishes, so that a model with requests is never evicted.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/engine/engine.h"
#include "daemon/engine/engine_loop.h"
#include "daemon/models/load_recorder.h"
#include "daemon/models/model_registry.h"

namespace hearth::daemon {

class PlacingEngine final : public Engine {
 public:
  // The registry (and its workers' engine loops) must outlive this engine and every request
  // submitted through it; a request goes to the engine loop of the worker that holds its
  // model. `forget` (may be empty) runs for a request that waited for its model and was never
  // submitted (the load failed, or it was cancelled): the journal forgets it, as it does a
  // refused submission.
  // `load` (may be null) records each request's arrival and end for the forecaster.
  explicit PlacingEngine(ModelRegistry* registry, std::function<void(uint64_t)> forget = nullptr,
                         LoadRecorder* load = nullptr)
      : registry_(registry), engines_(registry->engines()), forget_(std::move(forget)), load_(load) {}
  ~PlacingEngine() override;  // Stop()

  const model::Tokenizer* tokenizer(const std::string& model) const override { return registry_->tokenizer(model); }
  int32_t context_length(const std::string& model) const override;
  // From the worker where the model is warm; 0 while it is warm nowhere.
  int32_t embedding_size(const std::string& model) const override;
  // NotFound or InvalidArgument at once for a model that can never be placed; otherwise an id.
  StatusOr<uint64_t> Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) override;
  void Cancel(uint64_t id) override;
  // Summed over the workers' engine loops.
  EngineStats Stats() const override;

  // Running requests' computed KV blocks, from the workers that run them (EngineLoop::ExportKv);
  // ids running nowhere are left out. `prefill_tokens_per_second` (may be null): the fastest
  // measured prefill of those workers.
  StatusOr<std::map<uint64_t, KvPrefix>> ExportKv(const std::vector<uint64_t>& ids, int32_t max_blocks,
                                                  double* prefill_tokens_per_second = nullptr);
  // Into the prefix cache of the worker where the model is warm (EngineLoop::ImportKv).
  // NotFound when it is warm on none.
  StatusOr<int32_t> ImportKv(const KvPrefix& prefix);

  // Requests waiting for their model, over all models.
  int64_t NumWaitingForModels() const;
  // Waits for the placing threads to end (after the registry's Stop, their loads give up at
  // once): the waiting requests end with "server shutting down" and stay stored, so a restart
  // resumes them. Safe to call twice.
  void Stop();

 private:
  struct Waiting {
    GenerationRequest request;
    std::shared_ptr<RequestSink> sink;
  };
  struct ModelQueue {
    std::vector<Waiting> waiting;
    bool placing = false;  // a thread is making the model warm
  };

  // Submit without the load count: to the engine now, or to the model's queue.
  StatusOr<uint64_t> Place(GenerationRequest request, std::shared_ptr<RequestSink> sink);
  // A thread's work: makes `model` warm, then submits what waits for it, until none does.
  void Place(const std::string& model);
  // Submits one waiting request to `engine` (its model counted once already).
  void SubmitWaiting(Waiting w, EngineLoop* engine);
  void Fail(Waiting& w, const Status& why, bool forget);

  // Constant after construction.
  ModelRegistry* const registry_;
  const std::vector<EngineLoop*> engines_;  // by worker
  const std::function<void(uint64_t)> forget_;
  LoadRecorder* const load_;

  mutable std::mutex mu_;
  std::map<std::string, ModelQueue> queues_;  // GUARDED_BY(mu_)
  int placing_threads_ = 0;                   // GUARDED_BY(mu_): running Place
  bool stopping_ = false;                     // GUARDED_BY(mu_)
  std::condition_variable idle_;              // placing_threads_ reached 0
};

}  // namespace hearth::daemon
