#include "daemon/models/placing_engine.h"

#include <algorithm>

#include "common/log.h"

namespace hearth::daemon {
namespace {

// Runs `on_finish` when the request ends, however it ends, before passing the end on: what
// counts a request on its model (the registry's count, the load history) uncounts it here.
class OnFinishSink final : public RequestSink {
 public:
  OnFinishSink(std::shared_ptr<RequestSink> inner, std::function<void()> on_finish)
      : inner_(std::move(inner)), on_finish_(std::move(on_finish)) {}
  void OnToken(const TokenEvent& event) override { inner_->OnToken(event); }
  void OnFinish(const FinishEvent& event) override {
    on_finish_();
    inner_->OnFinish(event);
  }
  void OnModelLoading(bool loading) override { inner_->OnModelLoading(loading); }
  void OnServedBy(const std::string& node) override { inner_->OnServedBy(node); }
  void OnRemoteCost(int32_t tokens, double dollars) override { inner_->OnRemoteCost(tokens, dollars); }

 private:
  const std::shared_ptr<RequestSink> inner_;
  const std::function<void()> on_finish_;
};

}  // namespace

int32_t PlacingEngine::context_length(const std::string& model) const {
  for (EngineLoop* engine : engines_) {
    if (const int32_t warm = engine->context_length(model); warm > 0) return warm;
  }
  return registry_->context_length(model);
}

int32_t PlacingEngine::embedding_size(const std::string& model) const {
  for (EngineLoop* engine : engines_) {
    if (const int32_t warm = engine->embedding_size(model); warm > 0) return warm;
  }
  return 0;
}

EngineStats PlacingEngine::Stats() const {
  EngineStats sum;
  for (EngineLoop* engine : engines_) {
    const EngineStats s = engine->Stats();
    sum.num_waiting += s.num_waiting;
    sum.num_running += s.num_running;
    sum.kv_blocks_total += s.kv_blocks_total;
    sum.kv_blocks_free += s.kv_blocks_free;
    sum.tokens_generated += s.tokens_generated;
    sum.prefix_cache_queried_blocks += s.prefix_cache_queried_blocks;
    sum.prefix_cache_hit_blocks += s.prefix_cache_hit_blocks;
    for (const auto& [name, m] : s.models) {  // a model on several workers: summed
      ModelEngineStats& total = sum.models[name];
      total.num_waiting += m.num_waiting;
      total.num_running += m.num_running;
      total.kv_blocks_total += m.kv_blocks_total;
      total.kv_blocks_free += m.kv_blocks_free;
      total.tokens_generated += m.tokens_generated;
      total.prefix_cache_queried_blocks += m.prefix_cache_queried_blocks;
      total.prefix_cache_hit_blocks += m.prefix_cache_hit_blocks;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, queue] : queues_) {
    if (!queue.waiting.empty()) sum.models[name].num_waiting_for_model += static_cast<int64_t>(queue.waiting.size());
  }
  return sum;
}

PlacingEngine::~PlacingEngine() { Stop(); }

StatusOr<uint64_t> PlacingEngine::Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) {
  if (!sink) return Status::InvalidArgument("no sink for the request");
  if (!load_) return Place(std::move(request), std::move(sink));
  const std::string model = request.model;
  load_->Arrive(model);
  StatusOr<uint64_t> id =
      Place(std::move(request), std::make_shared<OnFinishSink>(sink, [this, model] { load_->Leave(model); }));
  if (!id.ok()) load_->Leave(model);  // refused: its sink is never called
  return id;
}

StatusOr<uint64_t> PlacingEngine::Place(GenerationRequest request, std::shared_ptr<RequestSink> sink) {
  const std::string model = request.model;
  EngineLoop* engine = nullptr;
  if (registry_->TryAcquireWarm(model, &engine)) {
    StatusOr<uint64_t> id = engine->Submit(
        std::move(request), std::make_shared<OnFinishSink>(sink, [this, model] { registry_->Release(model); }));
    if (!id.ok()) registry_->Release(model);  // the engine never calls a sink it refused
    return id;
  }
  HEARTH_RETURN_IF_ERROR(registry_->CheckPlaceable(model));
  if (request.id == 0) request.id = engines_.front()->NewRequestId();  // the one allocator
  const uint64_t id = request.id;
  bool start = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Status::Unavailable("the engine is stopping");
    ModelQueue& q = queues_[model];
    q.waiting.push_back({std::move(request), sink});
    start = !q.placing;
    q.placing = true;
    if (start) ++placing_threads_;
  }
  if (start) std::thread([this, model] { Place(model); }).detach();
  sink->OnModelLoading(true);
  LogInfo("request waits for its model").Kv("id", id).Kv("model", model);
  return id;
}

void PlacingEngine::Place(const std::string& model) {
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ModelQueue& q = queues_[model];
      if (q.waiting.empty()) {  // none left (or all cancelled): a later request starts a new thread
        q.placing = false;
        if (--placing_threads_ == 0) idle_.notify_all();
        return;
      }
    }
    bool cold = false;
    EngineLoop* engine = nullptr;
    const Status warm = registry_->Acquire(model, &cold, &engine);  // counts one request on success
    std::vector<Waiting> waiting;
    bool stopping = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      waiting.swap(queues_[model].waiting);
      stopping = stopping_ || registry_->stopping();
    }
    if (waiting.empty()) {  // all cancelled meanwhile
      if (warm.ok()) registry_->Release(model);
      continue;
    }
    if (!warm.ok()) {
      LogWarn("requests waited for a model that did not become warm")
          .Kv("model", model)
          .Kv("requests", waiting.size())
          .Kv("error", warm.ToString());
      // At shutdown they stay stored and a restart resumes them; else they are forgotten, as a
      // submission refused at once would have been.
      for (Waiting& w : waiting) Fail(w, stopping ? Status::Unavailable("server shutting down") : warm, !stopping);
    } else {
      if (cold) LogInfo("cold start: requests waited for their model to load").Kv("model", model);
      // The first rides on Acquire's count; the others are counted now, before any of them is
      // submitted: while one is counted the model cannot leave memory, even when it drains for
      // another model's load (a drain only turns away requests that have not waited).
      registry_->AcquireMore(model, static_cast<int64_t>(waiting.size()) - 1);
      for (Waiting& w : waiting) SubmitWaiting(std::move(w), engine);
    }
  }
}

void PlacingEngine::SubmitWaiting(Waiting w, EngineLoop* engine) {
  const std::string model = w.request.model;
  std::shared_ptr<RequestSink> sink = w.sink;
  sink->OnModelLoading(false);
  StatusOr<uint64_t> id = engine->Submit(
      std::move(w.request), std::make_shared<OnFinishSink>(sink, [this, model] { registry_->Release(model); }));
  if (id.ok()) return;
  registry_->Release(model);
  w.sink = sink;
  Fail(w, id.status(), true);
}

void PlacingEngine::Fail(Waiting& w, const Status& why, bool forget) {
  FinishEvent finish;
  finish.finish_reason = FinishReason::kError;
  finish.status = why;
  finish.prompt_tokens = static_cast<int32_t>(w.request.prompt.size());
  if (forget && forget_) forget_(w.request.id);
  w.sink->OnFinish(finish);
}

StatusOr<std::map<uint64_t, KvPrefix>> PlacingEngine::ExportKv(const std::vector<uint64_t>& ids, int32_t max_blocks,
                                                               double* prefill_tokens_per_second) {
  std::map<uint64_t, KvPrefix> out;
  double fastest = 0;
  for (EngineLoop* engine : engines_) {
    StatusOr<std::map<uint64_t, KvPrefix>> part = engine->ExportKv(ids, max_blocks);
    if (!part.ok()) return part.status();
    out.merge(*part);
    fastest = std::max(fastest, engine->prefill_tokens_per_second());
  }
  if (prefill_tokens_per_second) *prefill_tokens_per_second = fastest;
  return out;
}

StatusOr<int32_t> PlacingEngine::ImportKv(const KvPrefix& prefix) {
  for (EngineLoop* engine : engines_) {
    StatusOr<int32_t> written = engine->ImportKv(prefix);
    if (written.status().code() != Status::Code::kNotFound) return written;
  }
  return Status::NotFound("model '" + prefix.model + "' is not warm here");
}

void PlacingEngine::Cancel(uint64_t id) {
  Waiting cancelled;
  bool found = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [model, q] : queues_) {
      for (auto it = q.waiting.begin(); it != q.waiting.end(); ++it) {
        if (it->request.id != id) continue;
        cancelled = std::move(*it);
        q.waiting.erase(it);
        found = true;
        break;
      }
      if (found) break;
    }
  }
  if (!found) {
    for (EngineLoop* engine : engines_) engine->Cancel(id);  // the one that has it cancels it
    return;
  }
  FinishEvent finish;
  finish.finish_reason = FinishReason::kCancelled;
  finish.prompt_tokens = static_cast<int32_t>(cancelled.request.prompt.size());
  if (forget_) forget_(id);
  cancelled.sink->OnFinish(finish);
}

int64_t PlacingEngine::NumWaitingForModels() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t n = 0;
  for (const auto& [model, q] : queues_) n += static_cast<int64_t>(q.waiting.size());
  return n;
}

void PlacingEngine::Stop() {
  std::unique_lock<std::mutex> lock(mu_);
  stopping_ = true;
  idle_.wait(lock, [this] { return placing_threads_ == 0; });
}

}  // namespace hearth::daemon
