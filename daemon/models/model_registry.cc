#include "daemon/models/model_registry.h"

#include <algorithm>
#include <filesystem>

#include "common/check.h"
#include "common/log.h"
#include "daemon/engine/budget_profile.h"
#include "model/chat_template.h"
#include "model/gguf.h"
#include "model/llama_config.h"
#include "model/tokenizer_gguf.h"
#include "scheduler/prewarm.h"

namespace hearth::daemon {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Indexed by scheduler::ModelState (kOnDisk is "registered").
const char* const kStateNames[] = {"registered", "staging", "staged", "loading", "warm", "unloading"};
static_assert(static_cast<int>(scheduler::ModelState::kUnloading) == 5);

uint64_t RoundUpToPage(uint64_t bytes) {
  return (bytes + wire::kPoolPageBytes - 1) / wire::kPoolPageBytes * wire::kPoolPageBytes;
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Status BusyError(const std::string& name, int64_t active) {
  return Status::FailedPrecondition("model '" + name + "' has " + std::to_string(active) +
                                    " queued or running requests; wait, or force");
}

double SecondsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

}  // namespace

ModelRegistry::ModelRegistry(std::vector<RegistryWorker> workers, store::ModelStore* store, ServerMetrics* metrics,
                             ModelRegistryOptions options)
    : workers_(std::move(workers)), store_(store), metrics_(metrics), options_(options), speeds_(workers_.size()) {
  CHECK(!workers_.empty());
  for (const RegistryWorker& w : workers_) {
    w.calls->SetProgressListener([this](const wire::Progress& p) {
      std::lock_guard<std::mutex> lock(mu_);
      if (std::shared_ptr<Entry> e = Find(p.name)) {
        e->progress_done = p.done;
        e->progress_total = p.total;
      }
    });
  }
}

ModelRegistry::~ModelRegistry() {
  for (const RegistryWorker& w : workers_) w.calls->SetProgressListener(nullptr);
}

std::vector<EngineLoop*> ModelRegistry::engines() const {
  std::vector<EngineLoop*> out;
  for (const RegistryWorker& w : workers_) out.push_back(w.engine);
  return out;
}

StatusOr<std::shared_ptr<ModelRegistry::Entry>> ModelRegistry::ReadModel(const std::string& name,
                                                                         const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::InvalidArgument("model '" + name + "': no file at " + path);
  }
  auto fail = [&](const Status& st) {
    return Status::InvalidArgument("model '" + name + "' (" + path + "): " + st.message());
  };
  StatusOr<std::unique_ptr<model::GgufFile>> file = model::GgufFile::Open(path);
  if (!file.ok()) return fail(file.status());
  StatusOr<model::LlamaConfig> config = model::LlamaConfigFromGguf(**file);
  if (!config.ok()) return fail(config.status());
  StatusOr<std::unique_ptr<model::Tokenizer>> tokenizer = model::LoadTokenizerFromGguf(**file);
  if (!tokenizer.ok()) return fail(tokenizer.status());
  // A template outside the interpreter's subset still lets the model serve completions; chat
  // requests get a 400 that repeats this error.
  if (const auto& tmpl = (*tokenizer)->chat(); !(*tokenizer)->chat_template().empty() && !tmpl.ok()) {
    LogWarn("the model's chat template does not parse: chat requests will be refused")
        .Kv("name", name)
        .Kv("error", tmpl.status().message());
  }
  auto e = std::make_shared<Entry>();
  e->name = name;
  e->path = path;
  e->tokenizer = std::move(tokenizer).value();
  e->context_length = static_cast<int32_t>(std::min<uint32_t>(config->context_length, 1u << 30));
  e->file_bytes = (*file)->file_size();
  return e;
}

Status ModelRegistry::Start(const std::map<std::string, std::string>& configured) {
  std::vector<std::shared_ptr<Entry>> order;
  for (const auto& [name, path] : configured) {
    HEARTH_ASSIGN_OR_RETURN(std::shared_ptr<Entry> e, ReadModel(name, path));
    e->source = "config";
    order.push_back(std::move(e));
  }
  std::vector<store::StoredModel> stored;
  if (store_) {
    HEARTH_ASSIGN_OR_RETURN(stored, store_->List());
  }
  for (const store::StoredModel& s : stored) {
    if (auto it = configured.find(s.name); it != configured.end()) {
      for (auto& e : order) e->pinned = e->name == s.name ? s.pinned : e->pinned;  // config wins, but for the pin
      continue;
    }
    std::shared_ptr<Entry> e;
    StatusOr<std::shared_ptr<Entry>> read = ReadModel(s.name, s.path);
    if (read.ok()) {
      e = *read;
    } else {
      LogWarn("stored model cannot be read; it stays registered")
          .Kv("name", s.name)
          .Kv("error", read.status().ToString());
      e = std::make_shared<Entry>();
      e->name = s.name;
      e->path = s.path;
      e->last_error = read.status().message();
    }
    e->source = "admin";
    e->pinned = s.pinned;
    e->added_at = s.added_at;
    order.push_back(std::move(e));
  }
  Lock lock(mu_);
  for (const auto& e : order) entries_[e->name] = e;
  PublishStates();
  // Load in order while the budget holds them, without evicting what this start loaded: the
  // fill's first load runs, and the rest is planned again with the sizes the worker reported.
  std::vector<std::string> rest;
  for (const auto& e : order) {
    if (e->tokenizer) rest.push_back(e->name);
  }
  // With several workers, each model goes where it fits with the most room left.
  while (!rest.empty()) {
    auto first = rest.end();
    int where = -1;
    uint64_t most_free = 0;
    for (int w = 0; w < static_cast<int>(workers_.size()); ++w) {
      const scheduler::WorkerView view = ViewLocked(w);
      const scheduler::Plan plan = scheduler::PlanStartupFill(view, rest);
      if (plan.actions.empty()) continue;
      const auto next = std::find(rest.begin(), rest.end(), plan.actions.front().model);
      const uint64_t budget = scheduler::BudgetPages(view);
      const uint64_t used = scheduler::PagesInUse(view);
      const uint64_t free = budget == 0 ? UINT64_MAX - used : budget - std::min(budget, used);
      if (next < first || (next == first && free > most_free)) {
        first = next;
        where = w;
        most_free = free;
      }
    }
    for (auto it = rest.begin(); it != first; ++it) {
      LogInfo("model left registered: the memory budget is full")
          .Kv("name", *it)
          .Kv("estimate_bytes", EstimateBytes(*Find(*it)));
    }
    if (first == rest.end()) break;
    const std::shared_ptr<Entry> e = Find(*first);
    rest.erase(rest.begin(), first + 1);
    Status st = RunLoadLocked(lock, e, where);
    if (!st.ok() && e->source == "config") return st;
    if (!st.ok()) LogWarn("stored model did not load").Kv("name", e->name).Kv("error", st.ToString());
  }
  return Status::Ok();
}

std::shared_ptr<ModelRegistry::Entry> ModelRegistry::Find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : it->second;
}

const model::Tokenizer* ModelRegistry::tokenizer(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<Entry> e = Find(name);
  return e ? e->tokenizer.get() : nullptr;
}

int32_t ModelRegistry::context_length(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<Entry> e = Find(name);
  return e ? e->context_length : 0;
}

int64_t ModelRegistry::num_warm() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t n = 0;
  for (const auto& [name, e] : entries_) n += e->state == State::kWarm ? 1 : 0;
  return n;
}

uint64_t ModelRegistry::EstimateBytes(const Entry& e) const {
  if (e.bytes > 0) return e.bytes;
  // Never loaded: its file in pool pages, plus the largest KV cache any model got (at least a
  // page).
  uint64_t kv = wire::kPoolPageBytes;
  for (const auto& [name, other] : entries_) {
    const uint64_t weights = RoundUpToPage(other->file_bytes);
    kv = std::max(kv, other->bytes > weights ? other->bytes - weights : 0);
  }
  return RoundUpToPage(e.file_bytes) + kv;
}

bool ModelRegistry::Busy(const Entry& e) const {
  return e.active > 0 || (e.worker >= 0 && workers_[e.worker].engine->NumUnfinished(e.name) > 0);
}

scheduler::WorkerView ModelRegistry::ViewLocked(int w) const {
  scheduler::WorkerView view;
  view.worker = w;
  view.pool_budget_bytes = options_.memory_budget_bytes;
  view.page_bytes = wire::kPoolPageBytes;
  view.staged_budget_bytes = options_.staged_budget_bytes;
  view.models.reserve(entries_.size());
  for (const auto& [name, e] : entries_) {
    if (e->worker != w && e->worker >= 0) continue;  // another worker's
    scheduler::ModelView& m = view.models.emplace_back();
    m.name = name;
    m.state = e->state;
    m.warm_bytes = EstimateBytes(*e);
    m.copy_bytes = e->staged ? e->staged_bytes : e->file_bytes;
    m.has_copy = e->staged;
    m.pinned = e->pinned;
    m.busy = e->state == State::kWarm && Busy(*e);  // only a warm model's requests matter
    m.load_waiting = e->waiting_loads > 0;
    m.draining = e->draining;
    m.last_used = e->last_used_at.time_since_epoch().count();
    m.score = options_.forecast_placement ? e->forecast.score : 0;
  }
  return view;
}

int ModelRegistry::ChooseWorkerLocked(const Entry& e, bool stage) const {
  int best = 0, best_rank = 4;
  uint64_t best_free = 0;
  for (int w = 0; w < static_cast<int>(workers_.size()); ++w) {
    const scheduler::WorkerView view = ViewLocked(w);
    const scheduler::Plan plan = stage ? scheduler::PlanStage(view, e.name) : scheduler::PlanWarm(view, e.name);
    int rank = 3;  // refused
    if (plan.outcome == scheduler::Outcome::kReady) rank = plan.actions.size() == 1 ? 0 : 1;
    if (plan.outcome == scheduler::Outcome::kWait) rank = 2;
    const uint64_t budget = stage ? view.staged_budget_bytes : scheduler::BudgetPages(view);
    const uint64_t used = stage ? scheduler::StagedBytesInUse(view) : scheduler::PagesInUse(view);
    // Without a budget, the least used worker has the most room.
    const uint64_t free = budget == 0 ? UINT64_MAX - used : budget - std::min(budget, used);
    if (rank < best_rank || (rank == best_rank && free > best_free)) {
      best = w;
      best_rank = rank;
      best_free = free;
    }
  }
  return best;
}

void ModelRegistry::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

bool ModelRegistry::WaitForChange(Lock& lock, SteadyClock::time_point deadline) {
  const SteadyClock::time_point now = SteadyClock::now();
  if (stopping_ || now >= deadline) return false;
  cv_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(50)));
  return !stopping_;
}

bool ModelRegistry::WaitSettled(Lock& lock, const std::shared_ptr<Entry>& e, SteadyClock::time_point deadline) {
  while (!e->removed &&
         (e->state == State::kLoading || e->state == State::kUnloading || e->state == State::kStaging)) {
    if (!WaitForChange(lock, deadline)) return false;
  }
  return true;
}

Status ModelRegistry::LoadLocked(Lock& lock, const std::shared_ptr<Entry>& e, SteadyClock::time_point deadline) {
  if (!e->tokenizer)
    return Status::InvalidArgument(e->last_error.empty() ? "model '" + e->name + "' cannot be read" : e->last_error);
  ++e->waiting_loads;
  // Prewarming comes after requests: a load in progress for a prewarm gives the worker (and
  // the memory it holds) up, unless it is of this very model.
  for (const auto& [name, other] : entries_) {
    if (other->prewarm_cancel && other != e) other->prewarm_cancel->store(true);
  }
  struct Waiting {
    Entry* e;
    ~Waiting() { --e->waiting_loads; }  // mu_ is held at every return
  } waiting{e.get()};
  std::shared_ptr<Entry> drained;  // the busy model this load waits to evict
  int w = 0;                       // the worker it goes to
  auto undrain = [&] {
    if (drained && drained->state == State::kWarm) drained->draining = false;
    drained.reset();
    cv_.notify_all();
  };
  for (;;) {
    if (e->removed) {
      undrain();
      return Status::NotFound("model '" + e->name + "' was removed");
    }
    if (e->state != State::kOnDisk && e->state != State::kStaged) {  // another thread moved it meanwhile
      undrain();
      return Status::Ok();
    }
    // A staged model swaps in on the worker that holds its copy; one on disk goes where the
    // plans say (again each time round: the workers change while this waits).
    w = e->worker >= 0 ? e->worker : ChooseWorkerLocked(*e, /*stage=*/false);
    const scheduler::Plan plan = scheduler::PlanWarm(ViewLocked(w), e->name);
    if (plan.outcome == scheduler::Outcome::kRefused) {
      undrain();
      return Status::InvalidArgument(plan.reason);
    }
    // A drain only marks the model; the first action that calls the worker runs, and then the
    // entries (changed meanwhile, perhaps) are planned again. This load drains one model at a time.
    const scheduler::Action* step = nullptr;
    for (const scheduler::Action& a : plan.actions) {
      if (a.kind != scheduler::ActionKind::kDrain) {
        step = &a;
        break;
      }
      if (drained) continue;
      drained = Find(a.model);
      CHECK(drained != nullptr) << a.model;
      drained->draining = true;
      LogInfo("draining a model for room").Kv("draining", a.model).Kv("for", e->name);
    }
    if (step && step->model == e->name) break;  // room enough
    if (step) {
      if (drained && drained->name == step->model) drained.reset();
      RunRoomStepLocked(lock, *step, e->name);
      continue;
    }
    // Nothing can go now: wait for a request to finish or a model to change state.
    if (!WaitForChange(lock, deadline)) {
      undrain();
      return Status::Unavailable(plan.reason);
    }
  }
  undrain();
  return RunLoadLocked(lock, e, w);
}

Status ModelRegistry::RunLoadLocked(Lock& lock, const std::shared_ptr<Entry>& e, int w,
                                    std::shared_ptr<std::atomic<bool>> cancel) {
  const State from = e->state;
  const int from_worker = e->worker;
  const RegistryWorker worker = workers_[w];
  e->worker = w;
  e->state = State::kLoading;
  e->progress_done = e->progress_total = 0;
  PublishStates();
  const std::string name = e->name, path = e->path;
  const std::shared_ptr<const model::Tokenizer> tokenizer = e->tokenizer;
  int32_t token_budget = options_.token_budget > 0 ? options_.token_budget : e->token_budget;
  const uint64_t file_bytes = from == State::kStaged ? e->staged_bytes : e->file_bytes;
  e->prewarm_cancel = cancel;
  lock.unlock();
  const SteadyClock::time_point t0 = SteadyClock::now();
  StatusOr<wire::ModelInfo> info =
      cancel ? worker.engine->LoadOnWorker({name, path, 0}, cancel) : worker.calls->LoadModel({name, path, 0});
  const double read_seconds = SecondsSince(t0);
  Status st = info.status();
  if (st.ok() && token_budget == 0) {
    BudgetProfileOptions profile;
    profile.target_step_ms = options_.target_step_ms;
    StatusOr<int32_t> measured = MeasureTokenBudget(worker.calls, *info, profile);
    st = measured.status().WithContext("profiling model '" + name + "'");
    if (measured.ok()) token_budget = *measured;
  }
  if (st.ok()) st = worker.engine->AddModel(*info, tokenizer, token_budget);
  if (!st.ok() && info.ok()) (void)worker.calls->UnloadModel(name);
  const double seconds = SecondsSince(t0);
  const bool cancelled = cancel && cancel->load() && !info.ok();
  if (metrics_ && !cancelled) metrics_->ModelLoaded(name, seconds, st.ok(), info.ok() ? info->weights_bytes : 0);
  if (metrics_ && st.ok() && info->swapped_in) metrics_->ModelSwapped(name, "swap_in", seconds, info->weights_bytes);
  lock.lock();
  e->prewarm_cancel.reset();
  if (cancelled) {  // a request needed the worker: the model is where it was, with no error
    e->state = from;
    e->worker = from_worker;
    PublishStates();
    cv_.notify_all();
    LogInfo("prewarm load cancelled").Kv("name", name);
    return Status::Unavailable("the prewarm of model '" + name + "' was cancelled");
  }
  if (st.ok() && read_seconds > 0 && file_bytes > 0) {  // this worker's speed, smoothed
    double& speed = info->swapped_in ? speeds_[w].swap_in : speeds_[w].load;
    const double sample = static_cast<double>(file_bytes) / read_seconds;
    speed = speed == 0 ? sample : 0.5 * speed + 0.5 * sample;
  }
  if (!st.ok()) {
    e->state = from;
    e->worker = from_worker;
    e->last_error = st.message();
    PublishStates();
    cv_.notify_all();
    LogError("model load failed").Kv("name", name).Kv("error", st.ToString());
    // The loader's own words: a file it cannot use is the caller's mistake.
    return st.code() == Status::Code::kInternal ? Status::InvalidArgument(st.message()) : st;
  }
  e->state = State::kWarm;
  e->bytes = info->weights_bytes + info->kv_cache_bytes;
  e->token_budget = token_budget;
  e->context_length =
      static_cast<int32_t>(std::min<int64_t>(info->context_length, int64_t{info->num_kv_blocks} * info->block_size));
  ++e->loads;
  e->last_load_seconds = seconds;
  if (info->swapped_in) {
    ++e->swap_ins;
    e->last_swap_in_seconds = seconds;
  } else {
    e->staged = false;  // a cold load: the worker kept no copy (a restarted worker has none)
    e->staged_bytes = 0;
  }
  e->last_error.clear();
  e->last_used_at = SteadyClock::now();
  e->prewarmed = cancel != nullptr;
  PublishStates();
  cv_.notify_all();
  LogInfo("model ready")
      .Kv("name", name)
      .Kv("worker", w)
      .Kv("path", path)
      .Kv("bytes", e->bytes)
      .Kv("swapped_in", info->swapped_in)
      .Kv("prewarm", cancel != nullptr)
      .Kv("seconds", seconds);
  if (e->removed) UnloadLocked(lock, e, Status::Unavailable("model '" + name + "' was removed"), false);
  return Status::Ok();
}

void ModelRegistry::RunRoomStepLocked(Lock& lock, const scheduler::Action& step, const std::string& for_name) {
  const std::shared_ptr<Entry> victim = Find(step.model);
  CHECK(victim != nullptr) << step.model;
  const Status evicted = Status::Unavailable("model '" + step.model + "' was evicted");
  if (step.kind == scheduler::ActionKind::kSwapOut) {
    LogInfo("evicting a model for room").Kv("evicted", step.model).Kv("for", for_name);
    SwapOutLocked(lock, victim, evicted, /*eviction=*/true);
    return;
  }
  CHECK(step.kind == scheduler::ActionKind::kUnload) << scheduler::ActionKindName(step.kind);
  if (victim->state == State::kWarm) {
    LogInfo("evicting a model for room").Kv("evicted", step.model).Kv("for", for_name);
    UnloadLocked(lock, victim, evicted, /*eviction=*/true);
  } else {
    LogInfo("dropping a staged copy for room").Kv("dropped", step.model).Kv("for", for_name);
    UnloadLocked(lock, victim, Status::Unavailable("model '" + step.model + "' was unstaged"), /*eviction=*/false);
  }
}

void ModelRegistry::UnloadLocked(Lock& lock, const std::shared_ptr<Entry>& e, const Status& why, bool eviction) {
  CountLeavingPoolLocked(*e);
  e->state = State::kUnloading;
  PublishStates();
  const std::string name = e->name;
  CHECK(e->worker >= 0) << name;
  const RegistryWorker worker = workers_[e->worker];
  lock.unlock();
  Status st = worker.engine->RemoveModel(name, why);
  if (!st.ok() && st.code() != Status::Code::kNotFound)
    LogWarn("engine kept a model").Kv("name", name).Kv("error", st.ToString());
  st = worker.calls->UnloadModel(name);
  if (!st.ok()) LogWarn("worker did not unload a model").Kv("name", name).Kv("error", st.ToString());
  lock.lock();
  e->state = State::kOnDisk;
  e->worker = -1;
  e->staged = false;
  e->staged_bytes = 0;
  e->draining = false;
  if (eviction) {
    ++e->evictions;
    if (metrics_) metrics_->ModelEvicted(name);
  }
  PublishStates();
  cv_.notify_all();
  LogInfo(eviction ? "model evicted" : "model unloaded").Kv("name", name);
}

Status ModelRegistry::Acquire(const std::string& name, bool* cold, EngineLoop** engine) {
  *cold = false;
  const SteadyClock::time_point deadline = SteadyClock::now() + options_.wait_for_room;
  Lock lock(mu_);
  for (;;) {
    std::shared_ptr<Entry> e = Find(name);
    if (!e) return Status::NotFound("The model '" + name + "' does not exist");  // removed meanwhile
    if (e->state == State::kWarm && !e->draining) {
      CountUseLocked(*e);
      ++e->active;
      e->last_used_at = SteadyClock::now();
      e->last_used_unix = UnixNow();
      if (engine) *engine = workers_[e->worker].engine;
      return Status::Ok();
    }
    if (e->state == State::kOnDisk || e->state == State::kStaged) {
      *cold = true;
      if (metrics_ && e->state == State::kOnDisk) metrics_->ModelColdStart(name);
      HEARTH_RETURN_IF_ERROR(LoadLocked(lock, e, deadline));
      continue;
    }
    // Loading, unloading, or draining for another model's load.
    if (!WaitForChange(lock, deadline)) {
      return Status::Unavailable("model '" + name + "' is still loading, unloading or draining; retry");
    }
  }
}

bool ModelRegistry::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

bool ModelRegistry::TryAcquireWarm(const std::string& name, EngineLoop** engine) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<Entry> e = Find(name);
  if (!e || e->state != State::kWarm || e->draining) return false;
  if (engine) *engine = workers_[e->worker].engine;
  CountUseLocked(*e);
  ++e->active;
  e->last_used_at = SteadyClock::now();
  e->last_used_unix = UnixNow();
  return true;
}

void ModelRegistry::AcquireMore(const std::string& name, int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<Entry> e = Find(name);
  CHECK(e != nullptr && e->state == State::kWarm && e->active > 0) << name << ": not acquired";
  e->active += n;
}

Status ModelRegistry::CheckPlaceable(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<Entry> e = Find(name);
  if (!e) return Status::NotFound("The model '" + name + "' does not exist");
  if (!e->tokenizer) {
    return Status::InvalidArgument(e->last_error.empty() ? "model '" + name + "' cannot be read" : e->last_error);
  }
  if (e->state == State::kOnDisk || e->state == State::kStaged) {
    const int w = e->worker >= 0 ? e->worker : ChooseWorkerLocked(*e, /*stage=*/false);
    const scheduler::Plan plan = scheduler::PlanWarm(ViewLocked(w), name);
    if (plan.outcome == scheduler::Outcome::kRefused) return Status::InvalidArgument(plan.reason);
  }
  return Status::Ok();
}

void ModelRegistry::Release(const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::shared_ptr<Entry> e = Find(name);
    if (!e) return;
    e->active = std::max<int64_t>(0, e->active - 1);
    e->last_used_at = SteadyClock::now();
    e->last_used_unix = UnixNow();
  }
  cv_.notify_all();
}

ModelStatus ModelRegistry::StatusOf(const Entry& e) const {
  ModelStatus s;
  s.name = e.name;
  s.path = e.path;
  s.context_length = e.context_length;
  s.state = kStateNames[static_cast<int>(e.state)];
  s.pinned = e.pinned;
  s.source = e.source;
  s.last_used = e.last_used_unix;
  s.loads = e.loads;
  s.last_load_seconds = e.last_load_seconds;
  s.bytes = EstimateBytes(e);
  s.active_requests = e.active;
  s.evictions = e.evictions;
  s.staged = e.staged;
  s.staged_bytes = e.staged_bytes;
  s.swap_ins = e.swap_ins;
  s.swap_outs = e.swap_outs;
  s.last_swap_in_seconds = e.last_swap_in_seconds;
  const bool moving = e.state == State::kLoading || e.state == State::kStaging || e.state == State::kUnloading;
  s.progress_done = moving ? e.progress_done : 0;
  s.progress_total = moving ? e.progress_total : 0;
  s.last_error = e.last_error;
  s.worker = e.worker;
  s.predicted_avg = e.forecast.predicted_avg;
  s.predicted_peak = e.forecast.predicted_peak;
  s.predicted_arrivals = e.forecast.predicted_arrivals;
  s.observed_avg = e.forecast.observed_avg;
  s.observed_peak = e.forecast.observed_peak;
  s.score = e.forecast.score;
  s.batch_size = e.forecast.batch_size;
  s.planned_state = e.planned_state;
  s.prewarm_actions = e.prewarm_actions;
  s.prewarm_hits = e.prewarm_hits;
  s.prewarm_waste = e.prewarm_waste;
  return s;
}

std::vector<ModelStatus> ModelRegistry::List() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ModelStatus> out;
  for (const auto& [name, e] : entries_) out.push_back(StatusOf(*e));
  return out;
}

Status ModelRegistry::Persist(const Entry& e) {
  if (!store_) return Status::Ok();
  return store_->Put({e.name, e.path, e.pinned, e.added_at});
}

StatusOr<ModelStatus> ModelRegistry::Add(const std::string& name, const std::string& path, bool pinned) {
  {
    Lock lock(mu_);
    if (std::shared_ptr<Entry> e = Find(name)) {
      if (e->path != path) {
        return Status::FailedPrecondition("model '" + name + "' is already registered from " + e->path +
                                          "; remove it first");
      }
      lock.unlock();
      if (pinned) HEARTH_RETURN_IF_ERROR(SetPinned(name, true).status());
      return Load(name);  // already there: make sure it is warm
    }
  }
  HEARTH_ASSIGN_OR_RETURN(std::shared_ptr<Entry> e, ReadModel(name, path));
  e->source = "admin";
  e->pinned = pinned;
  e->added_at = UnixNow();
  Lock lock(mu_);
  if (Find(name)) return Status::FailedPrecondition("model '" + name + "' was registered meanwhile");
  entries_[name] = e;
  PublishStates();
  Status st = LoadLocked(lock, e, SteadyClock::now() + options_.wait_for_room);
  if (!st.ok() && st.code() == Status::Code::kUnavailable) e->last_error = st.message();
  if (!st.ok() && st.code() != Status::Code::kUnavailable) {
    // Not a model this worker can serve: forget it again.
    e->removed = true;
    entries_.erase(name);
    retired_.push_back(e->tokenizer);
    PublishStates();
    return st;
  }
  HEARTH_RETURN_IF_ERROR(Persist(*e));
  LogInfo("model added").Kv("name", name).Kv("path", path).Kv("pinned", pinned).Kv("warm", st.ok());
  return StatusOf(*e);
}

Status ModelRegistry::Remove(const std::string& name, bool force) {
  Lock lock(mu_);
  std::shared_ptr<Entry> e = Find(name);
  if (!e) return Status::NotFound("no model '" + name + "'");
  if (!WaitSettled(lock, e, SteadyClock::now() + options_.wait_for_room)) {
    return Status::Unavailable("model '" + name + "' is still loading or unloading; retry");
  }
  if (e->removed) return Status::NotFound("no model '" + name + "'");
  if (Busy(*e) && !force) {
    return BusyError(name, e->active);
  }
  e->removed = true;  // no new request acquires it from here on
  entries_.erase(name);
  retired_.push_back(e->tokenizer);
  if (e->state == State::kWarm || e->state == State::kStaged) {
    UnloadLocked(lock, e, Status::Unavailable("model '" + name + "' was removed"), false);
  }
  if (store_) {
    Status st = store_->Remove(name);
    if (!st.ok() && st.code() != Status::Code::kNotFound) return st;
  }
  if (metrics_) metrics_->SetModelState(name, "");
  LogInfo("model removed").Kv("name", name);
  return Status::Ok();
}

StatusOr<ModelStatus> ModelRegistry::Load(const std::string& name) {
  bool cold = false;
  HEARTH_RETURN_IF_ERROR(Acquire(name, &cold));
  Release(name);
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<Entry> e = Find(name);
  if (!e) return Status::NotFound("no model '" + name + "'");
  return StatusOf(*e);
}

StatusOr<ModelStatus> ModelRegistry::Unload(const std::string& name, bool force) {
  Lock lock(mu_);
  std::shared_ptr<Entry> e = Find(name);
  if (!e) return Status::NotFound("no model '" + name + "'");
  if (!WaitSettled(lock, e, SteadyClock::now() + options_.wait_for_room)) {
    return Status::Unavailable("model '" + name + "' is still loading or unloading; retry");
  }
  if (e->state == State::kWarm) {
    if (Busy(*e) && !force) {
      return BusyError(name, e->active);
    }
    UnloadLocked(lock, e, Status::Unavailable("model '" + name + "' was unloaded"), false);
  } else if (e->state == State::kStaged) {  // drop the host copy
    UnloadLocked(lock, e, Status::Ok(), false);
  }
  return StatusOf(*e);
}

StatusOr<ModelStatus> ModelRegistry::Stage(const std::string& name, bool force) {
  Lock lock(mu_);
  std::shared_ptr<Entry> e = Find(name);
  if (!e) return Status::NotFound("no model '" + name + "'");
  if (!WaitSettled(lock, e, SteadyClock::now() + options_.wait_for_room)) {
    return Status::Unavailable("model '" + name + "' is still loading, staging or unloading; retry");
  }
  if (e->removed) return Status::NotFound("no model '" + name + "'");
  if (e->state == State::kOnDisk) {
    HEARTH_RETURN_IF_ERROR(StageLocked(lock, e));
    return StatusOf(*e);
  }
  while (e->state == State::kWarm) {  // swap it out, after the copies dropped for its room
    const scheduler::Plan plan = scheduler::PlanStage(ViewLocked(e->worker), name);
    if (plan.refusal == scheduler::Refusal::kStagingOff) return Status::InvalidArgument(plan.reason);
    if (Busy(*e) && !force) return BusyError(name, e->active);
    if (plan.outcome == scheduler::Outcome::kRefused) return Status::ResourceExhausted(plan.reason);
    CHECK(!plan.actions.empty());
    const scheduler::Action& step = plan.actions.front();
    if (step.model == name) {
      SwapOutLocked(lock, e, Status::Unavailable("model '" + name + "' was swapped out"), /*eviction=*/false);
      break;
    }
    RunRoomStepLocked(lock, step, name);
    if (e->removed) return Status::NotFound("no model '" + name + "'");
  }
  return StatusOf(*e);
}

Status ModelRegistry::StageLocked(Lock& lock, const std::shared_ptr<Entry>& e) {
  int w = 0;
  for (;;) {
    w = ChooseWorkerLocked(*e, /*stage=*/true);
    const scheduler::Plan plan = scheduler::PlanStage(ViewLocked(w), e->name);
    if (plan.refusal == scheduler::Refusal::kStagingOff) return Status::InvalidArgument(plan.reason);
    if (!e->tokenizer)
      return Status::InvalidArgument(e->last_error.empty() ? "model '" + e->name + "' cannot be read" : e->last_error);
    if (plan.outcome == scheduler::Outcome::kRefused) return Status::ResourceExhausted(plan.reason);
    CHECK(plan.outcome == scheduler::Outcome::kReady && !plan.actions.empty()) << e->name;
    const scheduler::Action& step = plan.actions.front();
    if (step.model == e->name) break;
    RunRoomStepLocked(lock, step, e->name);  // a copy dropped for room
    if (e->removed) return Status::NotFound("model '" + e->name + "' was removed");
    if (e->state != State::kOnDisk) return Status::Ok();  // moved meanwhile
  }
  e->state = State::kStaging;
  e->worker = w;
  e->progress_done = e->progress_total = 0;
  PublishStates();
  const std::string name = e->name, path = e->path;
  lock.unlock();
  const SteadyClock::time_point t0 = SteadyClock::now();
  StatusOr<wire::StagedInfo> info = workers_[w].calls->StageModel({name, path, 0});
  const double seconds = SecondsSince(t0);
  if (metrics_ && info.ok()) metrics_->ModelSwapped(name, "stage", seconds, info->bytes);
  lock.lock();
  if (!info.ok()) {
    e->state = State::kOnDisk;
    e->worker = -1;
    e->last_error = info.status().message();
    PublishStates();
    cv_.notify_all();
    LogError("model staging failed").Kv("name", name).Kv("error", info.status().ToString());
    return info.status().code() == Status::Code::kInternal ? Status::InvalidArgument(info.status().message())
                                                            : info.status();
  }
  e->state = State::kStaged;
  e->staged = true;
  e->staged_bytes = info->bytes;
  e->last_error.clear();
  PublishStates();
  cv_.notify_all();
  LogInfo("model staged").Kv("name", name).Kv("bytes", info->bytes).Kv("seconds", seconds);
  if (e->removed) UnloadLocked(lock, e, Status::Unavailable("model '" + name + "' was removed"), false);
  return Status::Ok();
}

void ModelRegistry::SwapOutLocked(Lock& lock, const std::shared_ptr<Entry>& e, const Status& why, bool eviction) {
  CountLeavingPoolLocked(*e);
  e->state = State::kUnloading;  // out of the engine's reach: no request acquires it
  e->progress_done = e->progress_total = 0;
  if (!e->staged) {  // hold the room while the lock is released
    e->staged = true;
    e->staged_bytes = e->file_bytes;
  }
  PublishStates();
  const std::string name = e->name, path = e->path;
  const uint64_t freed = e->bytes;
  CHECK(e->worker >= 0) << name;
  const RegistryWorker worker = workers_[e->worker];
  lock.unlock();
  Status st = worker.engine->RemoveModel(name, why);
  if (!st.ok() && st.code() != Status::Code::kNotFound)
    LogWarn("engine kept a model").Kv("name", name).Kv("error", st.ToString());
  const SteadyClock::time_point t0 = SteadyClock::now();
  StatusOr<wire::StagedInfo> info = worker.calls->StageModel({name, path, 0});
  const double seconds = SecondsSince(t0);
  if (metrics_ && info.ok()) metrics_->ModelSwapped(name, "swap_out", seconds, freed);
  if (!info.ok()) {
    LogWarn("worker did not swap a model out; unloading it").Kv("name", name).Kv("error", info.status().ToString());
    st = worker.calls->UnloadModel(name);
    if (!st.ok()) LogWarn("worker did not unload a model").Kv("name", name).Kv("error", st.ToString());
  }
  lock.lock();
  e->state = info.ok() ? State::kStaged : State::kOnDisk;
  if (!info.ok()) e->worker = -1;
  e->staged = info.ok();
  e->staged_bytes = info.ok() ? info->bytes : 0;
  e->draining = false;
  if (info.ok()) ++e->swap_outs;
  if (eviction) {
    ++e->evictions;
    if (metrics_) metrics_->ModelEvicted(name);
  }
  PublishStates();
  cv_.notify_all();
  LogInfo(eviction ? "model evicted to staged" : "model swapped out").Kv("name", name).Kv("seconds", seconds);
  if (e->removed) UnloadLocked(lock, e, Status::Unavailable("model '" + name + "' was removed"), false);
}

StatusOr<ModelStatus> ModelRegistry::SetPinned(const std::string& name, bool pinned) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<Entry> e = Find(name);
  if (!e) return Status::NotFound("no model '" + name + "'");
  e->pinned = pinned;
  if (e->added_at == 0) e->added_at = UnixNow();
  HEARTH_RETURN_IF_ERROR(Persist(*e));
  cv_.notify_all();
  return StatusOf(*e);
}

void ModelRegistry::CountUseLocked(Entry& e) {
  if (!e.prewarmed) return;
  e.prewarmed = false;
  ++e.prewarm_hits;
  if (metrics_) metrics_->PrewarmHit(e.name);
}

void ModelRegistry::CountLeavingPoolLocked(Entry& e) {
  if (!e.prewarmed || e.state != State::kWarm) return;
  e.prewarmed = false;
  ++e.prewarm_waste;
  if (metrics_) metrics_->PrewarmWasted(e.name);
}

std::vector<PlacementInput> ModelRegistry::PlacementInputs() const {
  // Until a worker has measured a speed: the mean of those that have, else a guess of a local
  // disk's page cache and of a memory copy.
  constexpr double kGuessLoad = 1e9, kGuessSwapIn = 8e9;
  std::lock_guard<std::mutex> lock(mu_);
  double load_sum = 0, swap_sum = 0;
  int loads = 0, swaps = 0;
  for (const Speeds& s : speeds_) {
    if (s.load > 0) load_sum += s.load, ++loads;
    if (s.swap_in > 0) swap_sum += s.swap_in, ++swaps;
  }
  const double mean_load = loads > 0 ? load_sum / loads : kGuessLoad;
  const double mean_swap = swaps > 0 ? swap_sum / swaps : kGuessSwapIn;
  std::vector<PlacementInput> out;
  for (const auto& [name, e] : entries_) {
    if (!e->tokenizer) continue;
    PlacementInput in;
    in.name = name;
    in.file_bytes = e->file_bytes;
    in.staged = e->staged;
    in.staged_bytes = e->staged_bytes;
    const Speeds measured = e->worker >= 0 ? speeds_[e->worker] : Speeds{};
    in.load_bytes_per_s = measured.load > 0 ? measured.load : mean_load;
    in.swap_in_bytes_per_s = measured.swap_in > 0 ? measured.swap_in : mean_swap;
    out.push_back(std::move(in));
  }
  return out;
}

void ModelRegistry::SetForecasts(const std::vector<ModelForecast>& forecasts) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const ModelForecast& f : forecasts) {
    if (std::shared_ptr<Entry> e = Find(f.name)) {
      e->forecast = f;
      PublishForecastLocked(*e);
    }
  }
}

void ModelRegistry::PublishForecastLocked(const Entry& e) {
  if (!metrics_) return;
  const ModelForecast& f = e.forecast;
  metrics_->SetModelForecast(e.name, f.predicted_avg, f.predicted_peak, f.observed_avg, f.observed_peak, f.score,
                             e.planned_state);
}

bool ModelRegistry::PrewarmStep() {
  Lock lock(mu_);
  if (stopping_ || !options_.forecast_placement) return false;
  std::vector<std::pair<std::string, double>> scores;
  for (const auto& [name, e] : entries_) {
    // An unreadable model is never loaded for a prewarm, whatever its history says.
    scores.push_back({name, e->tokenizer ? e->forecast.score : 0.0});
  }
  // Each model's planned state, the best over the workers' plans (a model no worker holds is
  // in every worker's view).
  auto rank = [](const std::string& s) { return s == "warm" ? 2 : s == "staged" ? 1 : 0; };
  std::map<std::string, std::string> planned;
  int where = -1;
  scheduler::Action first;
  const SteadyClock::time_point now = SteadyClock::now();
  for (int w = 0; w < static_cast<int>(workers_.size()); ++w) {
    scheduler::WorkerView view = ViewLocked(w);
    for (scheduler::ModelView& m : view.models) {
      const std::shared_ptr<Entry> e = Find(m.name);
      if (m.state == State::kWarm && now - e->last_used_at < options_.prewarm_keeps_recent) m.busy = true;
    }
    const scheduler::PrewarmPlan plan = scheduler::PlanPrewarm(view, scores);
    for (const scheduler::ModelView& m : view.models) {
      std::string state = "disk";
      if (std::find(plan.warm.begin(), plan.warm.end(), m.name) != plan.warm.end()) state = "warm";
      if (std::find(plan.staged.begin(), plan.staged.end(), m.name) != plan.staged.end()) state = "staged";
      std::string& best = planned[m.name];
      if (best.empty() || rank(state) > rank(best)) best = state;
    }
    if (where < 0 && !plan.actions.empty()) {
      where = w;
      first = plan.actions.front();
    }
  }
  for (const auto& [name, state] : planned) {
    std::shared_ptr<Entry> e = Find(name);
    if (e->planned_state != state) {
      e->planned_state = state;
      PublishForecastLocked(*e);
    }
  }
  // Requests first: while one waits for a load, the plan is shown but not run.
  for (const auto& [name, e] : entries_) {
    if (e->waiting_loads > 0) return false;
  }
  if (where < 0) return false;
  return RunPrewarmActionLocked(lock, first, where);
}

bool ModelRegistry::RunPrewarmActionLocked(Lock& lock, const scheduler::Action& action, int w) {
  const std::shared_ptr<Entry> e = Find(action.model);
  CHECK(e != nullptr) << action.model;
  const char* kind = scheduler::ActionKindName(action.kind);
  LogInfo("prewarm").Kv("action", kind).Kv("model", action.model).Kv("worker", w).Kv("score", e->forecast.score);
  ++e->prewarm_actions;
  std::string outcome = "done";
  switch (action.kind) {
    case scheduler::ActionKind::kSwapOut:
      SwapOutLocked(lock, e, Status::Unavailable("model '" + e->name + "' was evicted"), /*eviction=*/true);
      if (e->state != State::kStaged) outcome = "failed";
      break;
    case scheduler::ActionKind::kUnload:
      UnloadLocked(lock, e, Status::Unavailable("model '" + e->name + "' was evicted"), e->state == State::kWarm);
      break;
    case scheduler::ActionKind::kLoad:
    case scheduler::ActionKind::kSwapIn: {
      auto cancel = std::make_shared<std::atomic<bool>>(false);
      if (!RunLoadLocked(lock, e, w, cancel).ok()) outcome = cancel->load() ? "cancelled" : "failed";
      break;
    }
    case scheduler::ActionKind::kStage:
      if (!StageLocked(lock, e).ok()) outcome = "failed";
      break;
    case scheduler::ActionKind::kDrain:
      CHECK(false) << "a prewarm plan never drains";
  }
  if (metrics_) metrics_->PrewarmAction(action.model, kind, outcome);
  return outcome == "done";
}

void ModelRegistry::PublishStates() {
  if (!metrics_) return;
  for (const auto& [name, e] : entries_) metrics_->SetModelState(name, kStateNames[static_cast<int>(e->state)]);
}

}  // namespace hearth::daemon
