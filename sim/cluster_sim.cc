#include "sim/cluster_sim.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>

#include "common/check.h"
#include "daemon/routing/route_choice.h"
#include "scheduler/batch_scheduler.h"
#include "scheduler/cluster_placement.h"
#include "scheduler/forecast.h"
#include "scheduler/load_tracker.h"
#include "scheduler/migration_plan.h"
#include "scheduler/placement.h"
#include "scheduler/prewarm.h"
#include "sim/event_queue.h"

namespace hearth::sim {
namespace {

using scheduler::ModelState;

constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr int64_t kDrainLimitNs = 600 * kNanosPerSecond;
constexpr int64_t kCostSampleNs = 60 * kNanosPerSecond;
constexpr int64_t kRetryNs = 100'000'000;  // a waiting placement asks again at least this often
constexpr int32_t kMaxRunSteps = 1 << 16;  // plain decode steps in one event, at most
// A kStepDone event's arg: the GPU's epoch, and for a decode run its flag and serial number.
constexpr int kEpochShift = 40;
constexpr int64_t kRunFlag = int64_t{1} << 39;
constexpr int64_t kSerialMask = kRunFlag - 1;

// The token every step samples for a request: never end-of-text.
int32_t SimToken(scheduler::RequestId id) { return 1000 + static_cast<int32_t>(id % 1000); }

// Route tiers (daemon/routing/route_choice.h's StateTier order).
constexpr int8_t kTierWarm = 0, kTierLoading = 1, kTierStaged = 2, kTierCold = 3;

class SimClock final : public scheduler::Clock {
 public:
  int64_t NowNanos() const override { return now; }
  int64_t now = 0;
};

struct Resident {
  int32_t model = 0;
  ModelState state = ModelState::kOnDisk;  // kLoading, kWarm or kStaged here
  bool has_copy = false;                   // a staged copy (staged, or warm since a swap-in)
  bool draining = false;
  int64_t last_used = 0;
  std::unique_ptr<scheduler::BatchScheduler> sched = nullptr;  // while warm
  std::vector<int64_t> pending = {};                 // requests waiting for it to be warm
  int32_t active = 0;                                // requests added to sched, unfinished
};

// One model's share of a decode run (below).
struct RunPart {
  int32_t model = 0;
  size_t index = 0;                             // among the GPU's residents
  std::vector<scheduler::RequestId> ids = {};  // its sequences, in step order
  int64_t context = 0;                          // their context tokens in its first step
  int32_t plain = 0;                            // its plain steps ahead
};

struct Gpu {
  int32_t node = 0;
  std::vector<Resident> residents = {};
  std::vector<int64_t> waiting_room = {};  // requests whose plan said wait
  bool retry_pending = false;              // a kRetry event is on its way
  bool stepping = false;
  int32_t step_resident_model = -1;
  size_t next_rr = 0;
  int64_t epoch = 0;                      // grows when its node goes: stale events are dropped
  std::vector<scheduler::RequestId> sampling = {};  // the step in flight's sequences that sample
  // A decode run in flight (RunOptions): run_steps plain steps, not yet applied to the
  // schedulers; step i ends at run_ends[i]. 0 steps: an ordinary step, or none.
  int32_t run_steps = 0;
  int64_t run_serial = 0;
  int64_t run_start_ns = 0;
  std::vector<int64_t> run_ends = {};
  // The models it steps in turn (the round robin's order): run step s is run_parts[s % parts]'s.
  std::vector<RunPart> run_parts = {};
  size_t run_num_parts = 0;
};

struct Node {
  std::string name;
  bool spot = false;
  bool serves = true;
  double price_per_hour = 0;
  bool alive = false;
  bool leaving = false;  // noticed: routes nothing new here
  int64_t up_since_ns = 0;
  int32_t first_gpu = 0;
  int32_t num_gpus = 0;
  uint64_t gpu_memory = 0;
  uint64_t staged_bytes = 0;
  int64_t load = 0;
  std::unique_ptr<scheduler::LoadTracker> tracker;
  std::vector<std::vector<scheduler::WindowLoad>> history;  // [model] closed windows
  std::vector<double> scores;                               // [model] by the latest forecast
  std::vector<scheduler::WindowLoad> predicted;             // [model] the latest forecast
  std::vector<bool> home;                                   // [model] a warm target of the cluster plan
};

struct Req {
  int32_t node = -1;
  int32_t gpu = -1;
  int64_t active_pos = -1;  // its index in active_ (arrived, unfinished), or -1
  std::vector<int32_t> committed;  // generated tokens the daemon holds (migration carries them)
};

class Simulation {
 public:
  Simulation(const Scenario& s, const std::vector<SimArrival>& arrivals, const std::vector<SpotChange>& spot,
             int32_t initial_spot, const RunOptions& options)
      : s_(s), arrivals_(arrivals), spot_(spot), initial_spot_(initial_spot), options_(options) {}

  StatusOr<SimResult> Run(const ProgressFn& progress);

 private:
  Status Setup();
  void Handle(const Event& e);
  void Route(int64_t r);
  void PlaceOnGpu(int64_t r, int32_t node);
  void Submit(int64_t r, int32_t gpu, Resident& res);
  void Kick(int32_t gpu);
  void StepDone(int32_t gpu);
  // Decode runs: starts one where the next steps of every model of the GPU with work are plain
  // (true), applies the first `steps` of them (counted as `events` events), and brings a GPU's
  // run up to the current event (its finished steps applied, the one in flight an ordinary
  // step) before anything touches it.
  bool StartRun(int32_t gpu);
  void ApplyRun(int32_t gpu, int32_t steps, int64_t events);
  void Materialize(int32_t gpu);
  void MaterializeNode(int32_t node);
  void RunDone(int32_t gpu);
  // At the drain limit: applies every run's steps that end by then; returns the latest end.
  int64_t SettleRuns(int64_t limit_ns);
  void SampleCost(int64_t until_ns);
  void ModelReady(int32_t gpu, int32_t model);
  void RunActions(int32_t gpu, const std::vector<scheduler::Action>& actions, bool prewarm);
  void RetryRoom(int32_t gpu);
  void Window();
  // The leader's plan across nodes (the real PlanClusterPlacement over every node's forecast):
  // each node makes its homes warm. `instant`: at start-up, before any traffic.
  void PlanCluster(bool instant);
  void MakeWarm(int32_t node, int32_t model, bool instant);
  // The daemon's start-up fill (the real PlanStartupFill) on each GPU of a node, in the
  // models' order rotated by the node's index, each model on one GPU of the node; warm before
  // any traffic.
  void StartupFill(int32_t node);
  void SpotNotice(int32_t node);
  void SpotRemove(int32_t node);
  void SpotAdd();
  void BringUp(int32_t node);
  void Finish(int64_t r, bool completed);
  // The unfinished requests a node holds, in arrival order.
  std::vector<int64_t> RequestsOn(int32_t node) const;
  void MoveTo(int64_t r, int32_t node);
  int32_t PickSpotVictim() const;
  void Displace(int64_t r, bool keep_tokens);
  void Account(int32_t node, int64_t at_ns);
  void UpdateTier(int32_t node, int32_t model);
  // Keeps by_tier_ in step with tier_ and Routable(): node n's place in model m's lists.
  void Reindex(int32_t model, int32_t node);
  void ReindexNode(int32_t node);
  Resident* FindResident(int32_t gpu, int32_t model);
  bool Routable(size_t n) const { return nodes_[n].alive && !nodes_[n].leaving && nodes_[n].serves; }
  // `also`: models to list as on disk where not resident (the plan's subjects).
  scheduler::WorkerView ViewOf(int32_t gpu, const std::vector<int32_t>& also = {}) const;
  uint64_t WarmBytes(int32_t model) const;
  scheduler::Request MakeRequest(int64_t r) const;

  const Scenario& s_;
  const std::vector<SimArrival>& arrivals_;
  const std::vector<SpotChange>& spot_;
  const int32_t initial_spot_;
  const RunOptions options_;

  SimClock clock_;
  // The event being handled: a run's step ending at its time came before it if the event is
  // another GPU's step with a higher index (the queue's tie order).
  bool current_is_step_ = false;
  int32_t current_target_ = 0;
  int64_t next_run_serial_ = 0;
  int64_t next_cost_ns_ = 0;
  EventQueue q_;
  std::vector<StepTimeModel> step_models_;  // [model]
  std::unordered_map<std::string, int32_t> model_index_;
  std::vector<Node> nodes_;
  std::vector<Gpu> gpus_;
  std::vector<std::vector<int8_t>> tier_;  // [model][node]
  // The routable nodes of each model by tier (in no order: ChooseRoute's choice depends on none),
  // so that routing a request costs its candidates, not the fleet. tier_pos_: a node's index in
  // its list, -1 when in none.
  std::vector<std::array<std::vector<int32_t>, 4>> by_tier_;  // [model][tier]
  std::vector<std::vector<int32_t>> tier_pos_;                 // [model][node]
  std::vector<daemon::RouteCandidate> route_cands_;            // Route()'s, reused
  std::vector<int32_t> route_index_;
  std::vector<Req> reqs_;
  std::vector<int64_t> homeless_;  // requests with no live node to go to
  std::vector<int64_t> active_;    // requests that arrived and have not finished, in no order
  SimResult result_;
  int64_t unfinished_ = 0;
  int64_t tick_ = 0;  // "last used" for placement
  int64_t horizon_ns_ = 0;
  int64_t busy_ns_ = 0;  // GPU time spent in steps
};

uint64_t Simulation::WarmBytes(int32_t model) const {
  const ModelSpec& m = s_.models[static_cast<size_t>(model)];
  return m.weight_bytes + m.kv_cache_bytes;
}

Status Simulation::Setup() {
  for (size_t i = 0; i < s_.models.size(); ++i) {
    const ModelSpec& m = s_.models[i];
    model_index_[m.name] = static_cast<int32_t>(i);
    if (s_.time.roofline) {
      HEARTH_ASSIGN_OR_RETURN(auto t, StepTimeModel::FromRoofline(s_.time.roofline_params,
                                                                  {m.weight_bytes, m.params, m.kv_bytes_per_token}));
      step_models_.push_back(std::move(t));
    } else {
      auto points = s_.time.profile;
      for (auto& p : points) p.ms *= m.step_time_scale;
      HEARTH_ASSIGN_OR_RETURN(auto t, StepTimeModel::FromProfile(points));
      step_models_.push_back(std::move(t));
    }
  }
  int32_t spot_left = initial_spot_;
  for (const NodeGroup& g : s_.nodes) {
    for (int32_t i = 0; i < g.count; ++i) {
      Node n;
      n.name = g.name + "-" + std::to_string(i);
      n.spot = g.spot;
      n.serves = g.serves;
      n.price_per_hour = g.price_per_hour;
      n.first_gpu = static_cast<int32_t>(gpus_.size());
      n.num_gpus = g.gpus;
      n.gpu_memory = g.gpu_memory_bytes;
      n.staged_bytes = g.staged_bytes;
      for (int32_t k = 0; k < g.gpus; ++k) gpus_.push_back(Gpu{static_cast<int32_t>(nodes_.size())});
      nodes_.push_back(std::move(n));
      const int32_t idx = static_cast<int32_t>(nodes_.size()) - 1;
      if (!g.spot || spot_left-- > 0) BringUp(idx);
    }
  }
  tier_.assign(s_.models.size(), std::vector<int8_t>(nodes_.size(), kTierCold));
  by_tier_.resize(s_.models.size());
  tier_pos_.assign(s_.models.size(), std::vector<int32_t>(nodes_.size(), -1));
  for (size_t n = 0; n < nodes_.size(); ++n) ReindexNode(static_cast<int32_t>(n));
  if (s_.policy.cluster_placement) PlanCluster(true);
  if (s_.policy.startup_fill) {
    for (size_t n = 0; n < nodes_.size(); ++n) {
      if (Routable(n)) StartupFill(static_cast<int32_t>(n));
    }
  }
  reqs_.resize(arrivals_.size());
  result_.requests.resize(arrivals_.size());
  for (size_t r = 0; r < arrivals_.size(); ++r) {
    const SimArrival& a = arrivals_[r];
    if (a.model < 0 || a.model >= static_cast<int32_t>(s_.models.size())) {
      return Status::InvalidArgument("an arrival names a model out of range");
    }
    RequestOutcome& o = result_.requests[r];
    o.model = a.model;
    o.arrival_ns = a.at_ns;
    o.output_tokens = a.output_tokens;
    q_.Push(a.at_ns, EventKind::kArrival, 0, static_cast<int64_t>(r));
    horizon_ns_ = std::max(horizon_ns_, a.at_ns);
  }
  unfinished_ = static_cast<int64_t>(arrivals_.size());
  const int64_t notice_ns = static_cast<int64_t>(s_.spot.notice_s * 1e9);
  for (const SpotChange& c : spot_) {
    for (int32_t k = 0; k < -c.delta; ++k) {
      // Which node goes is decided when the notice (or the removal) comes: target -1.
      if (s_.policy.preemption == PreemptionPolicy::kMigrate) {
        q_.Push(std::max<int64_t>(0, c.at_ns - notice_ns), EventKind::kSpotNotice, -1, c.at_ns);
      } else {
        q_.Push(c.at_ns, EventKind::kSpotRemove, -1, 0);
      }
    }
    for (int32_t k = 0; k < c.delta; ++k) q_.Push(c.at_ns, EventKind::kSpotAdd, 0, 0);
  }
  const int64_t window_ns = static_cast<int64_t>(s_.policy.window_s * 1e9);
  if (s_.policy.placement == PlacementPolicy::kForecast || s_.policy.cluster_placement) {
    q_.Push(window_ns, EventKind::kWindow, 0, 0);
  }
  return Status::Ok();
}

void Simulation::BringUp(int32_t n) {
  Node& node = nodes_[static_cast<size_t>(n)];
  node.alive = true;
  node.leaving = false;
  node.up_since_ns = clock_.now;
  node.load = 0;
  node.tracker = std::make_unique<scheduler::LoadTracker>(static_cast<int64_t>(s_.policy.window_s * 1e3));
  node.history.assign(s_.models.size(), {});
  node.scores.assign(s_.models.size(), 0.0);
  node.predicted.assign(s_.models.size(), {});
  node.home.assign(s_.models.size(), false);
  for (int32_t g = node.first_gpu; g < node.first_gpu + node.num_gpus; ++g) {
    gpus_[static_cast<size_t>(g)] = Gpu{n};
  }
  ReindexNode(n);
}

void Simulation::Account(int32_t n, int64_t at_ns) {
  Node& node = nodes_[static_cast<size_t>(n)];
  if (!node.alive) return;
  const double hours = static_cast<double>(at_ns - node.up_since_ns) / 3.6e12;
  result_.counters.gpu_hours += hours * node.num_gpus;
  result_.counters.cost += hours * node.price_per_hour;
  node.up_since_ns = at_ns;
}

Resident* Simulation::FindResident(int32_t gpu, int32_t model) {
  for (Resident& r : gpus_[static_cast<size_t>(gpu)].residents) {
    if (r.model == model) return &r;
  }
  return nullptr;
}

void Simulation::UpdateTier(int32_t n, int32_t model) {
  const Node& node = nodes_[static_cast<size_t>(n)];
  int8_t best = kTierCold;
  for (int32_t g = node.first_gpu; g < node.first_gpu + node.num_gpus; ++g) {
    for (const Resident& r : gpus_[static_cast<size_t>(g)].residents) {
      if (r.model != model) continue;
      if (r.state == ModelState::kWarm && !r.draining) best = std::min(best, kTierWarm);
      if (r.state == ModelState::kLoading) best = std::min(best, kTierLoading);
      if (r.has_copy) best = std::min(best, kTierStaged);
    }
  }
  tier_[static_cast<size_t>(model)][static_cast<size_t>(n)] = best;
  Reindex(model, n);
}

void Simulation::Reindex(int32_t model, int32_t n) {
  if (by_tier_.empty()) return;  // before Setup() built the index
  const size_t m = static_cast<size_t>(model);
  int32_t& pos = tier_pos_[m][static_cast<size_t>(n)];
  if (pos >= 0) {
    // Out of whichever list holds it: the last one takes its place.
    for (auto& list : by_tier_[m]) {
      if (static_cast<size_t>(pos) < list.size() && list[static_cast<size_t>(pos)] == n) {
        list[static_cast<size_t>(pos)] = list.back();
        tier_pos_[m][static_cast<size_t>(list.back())] = pos;
        list.pop_back();
        break;
      }
    }
    pos = -1;
  }
  if (!Routable(static_cast<size_t>(n))) return;
  auto& list = by_tier_[m][static_cast<size_t>(tier_[m][static_cast<size_t>(n)])];
  pos = static_cast<int32_t>(list.size());
  list.push_back(n);
}

void Simulation::ReindexNode(int32_t n) {
  for (size_t m = 0; m < s_.models.size(); ++m) Reindex(static_cast<int32_t>(m), n);
}

scheduler::WorkerView Simulation::ViewOf(int32_t gpu, const std::vector<int32_t>& also) const {
  const Gpu& g = gpus_[static_cast<size_t>(gpu)];
  const Node& node = nodes_[static_cast<size_t>(g.node)];
  scheduler::WorkerView v;
  v.worker = gpu;
  v.pool_budget_bytes = node.gpu_memory;
  v.page_bytes = s_.page_bytes;
  v.staged_budget_bytes = node.staged_bytes;
  for (const Resident& r : g.residents) {
    scheduler::ModelView m;
    m.name = s_.models[static_cast<size_t>(r.model)].name;
    m.state = r.state;
    m.warm_bytes = WarmBytes(r.model);
    m.copy_bytes = s_.models[static_cast<size_t>(r.model)].weight_bytes;
    m.has_copy = r.has_copy;
    m.busy = r.active > 0 || !r.pending.empty();
    m.load_waiting = !r.pending.empty();
    m.draining = r.draining;
    m.last_used = r.last_used;
    m.score = node.scores.empty() ? 0 : node.scores[static_cast<size_t>(r.model)];
    m.pinned = !node.home.empty() && node.home[static_cast<size_t>(r.model)] && r.state == ModelState::kWarm;
    v.models.push_back(std::move(m));
  }
  for (int32_t model : also) {
    bool resident = false;
    for (const Resident& r : g.residents) resident = resident || r.model == model;
    if (resident) continue;
    scheduler::ModelView m;
    m.name = s_.models[static_cast<size_t>(model)].name;
    m.warm_bytes = WarmBytes(model);
    m.copy_bytes = s_.models[static_cast<size_t>(model)].weight_bytes;
    m.score = node.scores.empty() ? 0 : node.scores[static_cast<size_t>(model)];
    v.models.push_back(std::move(m));
  }
  return v;
}

scheduler::Request Simulation::MakeRequest(int64_t r) const {
  const SimArrival& a = arrivals_[static_cast<size_t>(r)];
  scheduler::Request req;
  req.id = static_cast<scheduler::RequestId>(r);
  req.prompt.resize(static_cast<size_t>(a.prompt_tokens));
  // Distinct prompts (no shared prefixes), as bench/warm's random token ids.
  uint64_t x = (s_.seed + 1) * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(r);
  for (int32_t& t : req.prompt) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 29;
    t = 200 + static_cast<int32_t>(x % 30000);
  }
  req.generated = reqs_[static_cast<size_t>(r)].committed;
  req.max_tokens = a.output_tokens;
  return req;
}

void Simulation::Route(int64_t r) {
  const int32_t model = arrivals_[static_cast<size_t>(r)].model;
  const auto& lists = by_tier_[static_cast<size_t>(model)];
  int8_t best = 0;
  while (best <= kTierCold && lists[static_cast<size_t>(best)].empty()) ++best;
  if (best > kTierCold) {
    homeless_.push_back(r);
    return;
  }
  // Only the best tier can win (state dominates), so only it is handed to ChooseRoute.
  static const char* const kStateNames[] = {"warm", "loading", "staged", "registered"};
  std::vector<daemon::RouteCandidate>& cands = route_cands_;
  std::vector<int32_t>& index = route_index_;
  const auto& list = lists[static_cast<size_t>(best)];
  cands.resize(list.size());
  index.resize(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const Node& node = nodes_[static_cast<size_t>(list[i])];
    cands[i].node = node.name;
    cands[i].state = kStateNames[best];
    cands[i].load = node.load;
    cands[i].self = false;
    index[i] = list[i];
  }
  daemon::RouteChoiceOptions options;
  options.balance_slack = s_.policy.balance_slack;
  // The prefix hash of the prompt's first tokens: distinct prompts, so the request id.
  const uint64_t prefix = static_cast<uint64_t>(r) * 0x9e3779b97f4a7c15ULL + s_.seed;
  const int pick = daemon::ChooseRoute(cands, prefix, options);
  CHECK(pick >= 0);
  const int32_t n = index[static_cast<size_t>(pick)];
  Node& node = nodes_[static_cast<size_t>(n)];
  reqs_[static_cast<size_t>(r)].node = n;
  node.load++;
  node.tracker->Arrive(s_.models[static_cast<size_t>(model)].name, clock_.now / 1'000'000);
  PlaceOnGpu(r, n);
}

void Simulation::PlaceOnGpu(int64_t r, int32_t n) {
  const int32_t model = arrivals_[static_cast<size_t>(r)].model;
  const Node& node = nodes_[static_cast<size_t>(n)];
  // A GPU where it is warm (least active), else loading, else staged, else the one with the
  // most free room by the placement's own arithmetic.
  int32_t best_gpu = -1;
  int64_t best_key = INT64_MAX;
  for (int32_t g = node.first_gpu; g < node.first_gpu + node.num_gpus; ++g) {
    const Resident* res = FindResident(g, model);
    if (!res) continue;
    int64_t key = INT64_MAX;
    if (res->state == ModelState::kWarm && !res->draining) {
      key = res->active;
    } else if (res->state == ModelState::kLoading) {
      key = (int64_t{1} << 40) + static_cast<int64_t>(res->pending.size());
    }
    if (key < best_key) {
      best_key = key;
      best_gpu = g;
    }
  }
  // Not warm nor loading anywhere on the node: a GPU with its staged copy, else the one with
  // the fewest pages in use, by the placement's own arithmetic.
  for (int32_t g = node.first_gpu; best_gpu < 0 || best_key >= (int64_t{1} << 41); ++g) {
    if (g == node.first_gpu + node.num_gpus) break;
    const Resident* res = FindResident(g, model);
    const int64_t used = static_cast<int64_t>(scheduler::PagesInUse(ViewOf(g)));
    const int64_t key = (int64_t{1} << (res && res->has_copy ? 41 : 42)) + used;
    if (key < best_key) {
      best_key = key;
      best_gpu = g;
    }
  }
  reqs_[static_cast<size_t>(r)].gpu = best_gpu;
  Resident* res = FindResident(best_gpu, model);
  if (res && res->state == ModelState::kWarm && !res->draining) {
    Submit(r, best_gpu, *res);
    return;
  }
  if (res && res->state == ModelState::kLoading) {
    res->pending.push_back(r);
    return;
  }
  const bool staged = res && res->has_copy;
  auto plan = scheduler::PlanWarm(ViewOf(best_gpu, {model}), s_.models[static_cast<size_t>(model)].name);
  RequestOutcome& o = result_.requests[static_cast<size_t>(r)];
  if (plan.outcome == scheduler::Outcome::kRefused) {
    Finish(r, false);  // fits nowhere: lost
    return;
  }
  RunActions(best_gpu, plan.actions, false);
  if (plan.outcome == scheduler::Outcome::kWait) {
    // Wait for a change and ask again (as the registry does): after a step or a load on this
    // GPU, and at the latest after kRetryNs, since the change may come from elsewhere (a
    // preemption took the drained model's requests away).
    Gpu& g = gpus_[static_cast<size_t>(best_gpu)];
    g.waiting_room.push_back(r);
    if (!g.retry_pending) {
      g.retry_pending = true;
      q_.Push(clock_.now + kRetryNs, EventKind::kRetry, best_gpu, g.epoch);
    }
    return;
  }
  res = FindResident(best_gpu, model);
  CHECK(res);
  if (res->state == ModelState::kWarm && res->draining) {
    // A draining model admits nothing new (else a steady stream would keep it busy and starve
    // the model it makes room for): wait until it has gone, then plan again.
    Gpu& g = gpus_[static_cast<size_t>(best_gpu)];
    g.waiting_room.push_back(r);
    if (!g.retry_pending) {
      g.retry_pending = true;
      q_.Push(clock_.now + kRetryNs, EventKind::kRetry, best_gpu, g.epoch);
    }
    return;
  }
  if (res->state == ModelState::kWarm) {
    Submit(r, best_gpu, *res);
    return;
  }
  (staged ? o.swap_in : o.cold_start) = true;
  res->pending.push_back(r);
}

void Simulation::RunActions(int32_t gpu, const std::vector<scheduler::Action>& actions, bool prewarm) {
  if (!actions.empty()) Materialize(gpu);
  Gpu& g = gpus_[static_cast<size_t>(gpu)];
  for (const scheduler::Action& a : actions) {
    const int32_t model = model_index_.at(a.model);
    Resident* res = FindResident(gpu, model);
    if (prewarm) result_.counters.prewarm_actions++;
    switch (a.kind) {
      case scheduler::ActionKind::kLoad:
      case scheduler::ActionKind::kSwapIn: {
        if (!res) {
          g.residents.push_back(Resident{model});
          res = &g.residents.back();
        }
        const bool swap = a.kind == scheduler::ActionKind::kSwapIn;
        res->state = ModelState::kLoading;
        res->last_used = ++tick_;
        const uint64_t bytes = s_.models[static_cast<size_t>(model)].weight_bytes;
        const int64_t dt = TransferNanos(bytes, swap ? s_.time.swap_in : s_.time.load);
        (swap ? result_.counters.swap_ins : result_.counters.loads)++;
        q_.Push(clock_.now + dt, EventKind::kModelReady, gpu, (g.epoch << 20) | model);
        break;
      }
      case scheduler::ActionKind::kStage:
        if (!res) {
          g.residents.push_back(Resident{model});
          res = &g.residents.back();
        }
        res->state = ModelState::kStaged;  // the disk read happens off the GPU: not timed
        res->has_copy = true;
        break;
      case scheduler::ActionKind::kSwapOut:
      case scheduler::ActionKind::kUnload:
        if (!res) break;
        if (res->state == ModelState::kWarm) result_.counters.evictions++;
        if (a.kind == scheduler::ActionKind::kSwapOut) {
          res->state = ModelState::kStaged;
          res->has_copy = true;
          res->sched.reset();
          res->draining = false;
        } else {
          g.residents.erase(g.residents.begin() + (res - g.residents.data()));
        }
        break;
      case scheduler::ActionKind::kDrain:
        if (res) res->draining = true;
        break;
    }
    UpdateTier(g.node, model);
  }
}

void Simulation::ModelReady(int32_t gpu, int32_t model) {
  Gpu& g = gpus_[static_cast<size_t>(gpu)];
  Resident* res = FindResident(gpu, model);
  if (!res || res->state != ModelState::kLoading) return;
  const ModelSpec& m = s_.models[static_cast<size_t>(model)];
  const uint64_t block_bytes =
      std::max<uint64_t>(1, m.kv_bytes_per_token) * static_cast<uint64_t>(s_.scheduler.block_size);
  const int32_t blocks = static_cast<int32_t>(std::clamp<uint64_t>(m.kv_cache_bytes / block_bytes, 1, 1u << 30));
  res->state = ModelState::kWarm;
  res->sched = std::make_unique<scheduler::BatchScheduler>(s_.scheduler, blocks, &clock_);
  UpdateTier(g.node, model);
  std::vector<int64_t> pending;
  pending.swap(res->pending);
  for (int64_t r : pending) Submit(r, gpu, *res);
  Kick(gpu);
  // A plan that waited for a model to finish moving can go on now.
  if (!g.waiting_room.empty()) RetryRoom(gpu);
}

void Simulation::Submit(int64_t r, int32_t gpu, Resident& res) {
  Materialize(gpu);
  Status st = res.sched->Add(MakeRequest(r));
  if (!st.ok()) {
    Finish(r, false);
    return;
  }
  reqs_[static_cast<size_t>(r)].gpu = gpu;
  res.active++;
  res.last_used = ++tick_;
  Kick(gpu);
}

void Simulation::Kick(int32_t gpu) {
  Gpu& g = gpus_[static_cast<size_t>(gpu)];
  if (g.stepping || g.residents.empty()) return;
  if (!options_.step_by_step && StartRun(gpu)) return;
  // Round robin over the warm models with work: one step of one model at a time.
  const size_t n = g.residents.size();
  for (size_t k = 0; k < n; ++k) {
    Resident& res = g.residents[(g.next_rr + k) % n];
    if (res.state != ModelState::kWarm || !res.sched || !res.sched->has_unfinished()) continue;
    scheduler::SchedulerOutput out = res.sched->Schedule();
    result_.counters.scheduler_preemptions += static_cast<int64_t>(out.preempted.size());
    for (const auto& f : out.failed) {
      res.active--;
      Finish(static_cast<int64_t>(f.id), false);
    }
    if (out.seqs.empty()) continue;
    StepWork work;
    work.num_tokens = out.num_batched_tokens;
    for (const auto& seq : out.seqs) work.context_tokens += seq.start_pos + seq.num_tokens;
    const int64_t dt = std::max<int64_t>(1, step_models_[static_cast<size_t>(res.model)].StepNanos(work));
    g.stepping = true;
    g.step_resident_model = res.model;
    g.next_rr = (g.next_rr + k + 1) % n;
    busy_ns_ += dt;
    result_.counters.steps++;
    result_.counters.scheduled_tokens += out.num_batched_tokens;
    // The step's sampled tokens are decided now; the scheduler learns them when it ends.
    q_.Push(clock_.now + dt, EventKind::kStepDone, gpu, g.epoch << kEpochShift);
    g.sampling.clear();
    for (const auto& seq : out.seqs) {
      if (seq.want_logits) g.sampling.push_back(seq.id);
    }
    return;
  }
}

void Simulation::StepDone(int32_t gpu) {
  Gpu& g = gpus_[static_cast<size_t>(gpu)];
  g.stepping = false;
  Resident* res = FindResident(gpu, g.step_resident_model);
  CHECK(res && res->sched);
  scheduler::StepResult result;
  for (scheduler::RequestId id : g.sampling) {
    // Never end-of-text: a request runs to its trace's output length.
    result.sampled.push_back({id, SimToken(id), false});
  }
  for (scheduler::RequestId id : g.sampling) {
    if (!res->sched->Find(id)) continue;  // aborted while the step ran
    Req& q = reqs_[static_cast<size_t>(id)];
    RequestOutcome& o = result_.requests[static_cast<size_t>(id)];
    q.committed.push_back(SimToken(id));
    const int32_t n = static_cast<int32_t>(q.committed.size());
    if (n > o.delivered) {
      o.delivered = n;
      if (o.first_token_ns < 0) o.first_token_ns = clock_.now;
      o.last_token_ns = clock_.now;
    }
  }
  const auto finished = res->sched->OnStepDone(result);
  for (const auto& f : finished) {
    res->active--;
    Finish(static_cast<int64_t>(f.id), f.status.ok());
  }
  if (!finished.empty() && !g.waiting_room.empty()) RetryRoom(gpu);
  Kick(gpu);
}

bool Simulation::StartRun(int32_t gpu) {
  Gpu& g = gpus_[static_cast<size_t>(gpu)];
  // The models with work, in the round robin's order from next_rr: the GPU steps them in turn,
  // for as long as every one of them has plain steps left.
  const size_t n = g.residents.size();
  size_t m = 0;
  int64_t length = INT64_MAX;
  for (size_t k = 0; k < n; ++k) {
    const size_t index = (g.next_rr + k) % n;
    Resident& res = g.residents[index];
    if (res.state != ModelState::kWarm || !res.sched || !res.sched->has_unfinished()) continue;
    if (g.run_parts.size() <= m) g.run_parts.emplace_back();
    RunPart& part = g.run_parts[m];
    part.plain = res.sched->PlainDecodeSteps(kMaxRunSteps, &part.ids, &part.context);
    if (part.plain == 0) return false;
    part.model = res.model;
    part.index = index;
    ++m;
  }
  if (m == 0) return false;
  // Part p's own step i is the run's step i * m + p: the run ends before the first of them that
  // would not be plain.
  for (size_t p = 0; p < m; ++p) {
    length = std::min(length, int64_t{g.run_parts[p].plain} * static_cast<int64_t>(m) + static_cast<int64_t>(p));
  }
  if (length < 2) return false;
  g.run_num_parts = m;
  g.run_steps = static_cast<int32_t>(std::min<int64_t>(length, kMaxRunSteps));
  g.run_ends.resize(static_cast<size_t>(g.run_steps));
  int64_t t = clock_.now;
  for (int32_t step = 0; step < g.run_steps; ++step) {
    const RunPart& part = g.run_parts[static_cast<size_t>(step) % m];
    const int64_t own = step / static_cast<int64_t>(m);
    StepWork work;
    work.num_tokens = static_cast<int32_t>(part.ids.size());
    work.context_tokens = part.context + own * static_cast<int64_t>(part.ids.size());
    t += std::max<int64_t>(1, step_models_[static_cast<size_t>(part.model)].StepNanos(work));
    g.run_ends[static_cast<size_t>(step)] = t;
  }
  g.stepping = true;
  g.run_serial = ++next_run_serial_ & kSerialMask;
  g.run_start_ns = clock_.now;
  q_.Push(t, EventKind::kStepDone, gpu, (g.epoch << kEpochShift) | kRunFlag | g.run_serial);
  return true;
}

void Simulation::ApplyRun(int32_t gpu, int32_t steps, int64_t events) {
  if (steps == 0) return;
  Gpu& g = gpus_[static_cast<size_t>(gpu)];
  CHECK_LE(steps, g.run_steps);
  const size_t m = g.run_num_parts;
  for (size_t p = 0; p < m && p < static_cast<size_t>(steps); ++p) {
    const RunPart& part = g.run_parts[p];
    const int32_t own = static_cast<int32_t>((static_cast<size_t>(steps) - p + m - 1) / m);
    auto end_of = [&](int32_t i) { return g.run_ends[static_cast<size_t>(i - 1) * m + p]; };  // its step i, from 1
    Resident* res = FindResident(gpu, part.model);
    CHECK(res && res->sched);
    const int64_t now = clock_.now;
    clock_.now = end_of(own);  // the scheduler reads the clock as the end of the last step
    res->sched->AdvanceDecode(own, SimToken);
    clock_.now = now;
    // What StepDone() records step by step: each step commits one token per sequence; the ones
    // beyond what the client already has are delivered.
    for (scheduler::RequestId id : part.ids) {
      Req& q = reqs_[static_cast<size_t>(id)];
      RequestOutcome& o = result_.requests[static_cast<size_t>(id)];
      const int32_t before = static_cast<int32_t>(q.committed.size());
      q.committed.insert(q.committed.end(), static_cast<size_t>(own), SimToken(id));
      if (before + own > o.delivered) {
        if (o.first_token_ns < 0) o.first_token_ns = end_of(std::max(1, o.delivered - before + 1));
        o.last_token_ns = end_of(own);
        o.delivered = before + own;
      }
    }
    result_.counters.scheduled_tokens += int64_t{own} * static_cast<int64_t>(part.ids.size());
  }
  result_.counters.steps += steps;
  result_.counters.events += events;
  busy_ns_ += g.run_ends[static_cast<size_t>(steps - 1)] - g.run_start_ns;
}

void Simulation::RunDone(int32_t gpu) {
  Gpu& g = gpus_[static_cast<size_t>(gpu)];
  ApplyRun(gpu, g.run_steps, g.run_steps - 1);  // the last step is this event
  // The round robin goes on after the model of the run's last step.
  const RunPart& last = g.run_parts[static_cast<size_t>(g.run_steps - 1) % g.run_num_parts];
  g.step_resident_model = last.model;
  g.next_rr = (last.index + 1) % g.residents.size();
  g.run_steps = 0;
  g.stepping = false;
  Kick(gpu);
}

void Simulation::Materialize(int32_t gpu) {
  Gpu& g = gpus_[static_cast<size_t>(gpu)];
  if (g.run_steps == 0) return;
  // Its steps that ended before the current event (ties: the queue's order).
  const auto ends = g.run_ends.begin();
  int32_t done = static_cast<int32_t>(std::lower_bound(ends, ends + g.run_steps, clock_.now) - ends);
  if (done < g.run_steps && g.run_ends[static_cast<size_t>(done)] == clock_.now && current_is_step_ &&
      current_target_ > gpu) {
    ++done;
  }
  CHECK_LT(done, g.run_steps) << "a decode run's last step is its own event";
  ApplyRun(gpu, done, done);
  // The step in flight, as the ordinary step Kick() made of it when it began.
  const RunPart& part = g.run_parts[static_cast<size_t>(done) % g.run_num_parts];
  const int64_t start = done == 0 ? g.run_start_ns : g.run_ends[static_cast<size_t>(done - 1)];
  const int64_t end = g.run_ends[static_cast<size_t>(done)];
  Resident* res = FindResident(gpu, part.model);
  const int64_t now = clock_.now;
  clock_.now = start;
  const scheduler::SchedulerOutput out = res->sched->Schedule();
  clock_.now = now;
  CHECK_EQ(out.seqs.size(), part.ids.size());
  busy_ns_ += end - start;
  result_.counters.steps++;
  result_.counters.scheduled_tokens += out.num_batched_tokens;
  g.step_resident_model = part.model;
  g.next_rr = (part.index + 1) % g.residents.size();
  g.sampling.clear();
  for (const auto& seq : out.seqs) {
    if (seq.want_logits) g.sampling.push_back(seq.id);
  }
  g.run_steps = 0;
  q_.Push(end, EventKind::kStepDone, gpu, g.epoch << kEpochShift);
}

void Simulation::MaterializeNode(int32_t n) {
  const Node& node = nodes_[static_cast<size_t>(n)];
  for (int32_t g = node.first_gpu; g < node.first_gpu + node.num_gpus; ++g) Materialize(g);
}

int64_t Simulation::SettleRuns(int64_t limit_ns) {
  int64_t latest = 0;
  for (size_t i = 0; i < gpus_.size(); ++i) {
    Gpu& g = gpus_[i];
    if (g.run_steps == 0) continue;
    const auto ends = g.run_ends.begin();
    const int32_t done = static_cast<int32_t>(std::upper_bound(ends, ends + g.run_steps, limit_ns) - ends);
    CHECK_LT(done, g.run_steps);
    ApplyRun(static_cast<int32_t>(i), done, done);
    // The step in flight at the limit had begun: counted as Kick() counts it.
    const int64_t start = done == 0 ? g.run_start_ns : g.run_ends[static_cast<size_t>(done - 1)];
    busy_ns_ += g.run_ends[static_cast<size_t>(done)] - start;
    result_.counters.steps++;
    result_.counters.scheduled_tokens +=
        static_cast<int64_t>(g.run_parts[static_cast<size_t>(done) % g.run_num_parts].ids.size());
    if (done > 0) latest = std::max(latest, start);
    g.run_steps = 0;
  }
  return latest;
}

void Simulation::SampleCost(int64_t until_ns) {
  // Each minute's point is the cost at that minute exactly, whichever event came next.
  while (until_ns >= next_cost_ns_) {
    CostPoint p;
    p.at_ns = next_cost_ns_;
    for (size_t n = 0; n < nodes_.size(); ++n) {
      Account(static_cast<int32_t>(n), next_cost_ns_);
      p.nodes += nodes_[n].alive ? 1 : 0;
    }
    p.cost = result_.counters.cost;
    result_.cost_over_time.push_back(p);
    next_cost_ns_ += kCostSampleNs;
  }
}

void Simulation::RetryRoom(int32_t gpu) {
  Gpu& g = gpus_[static_cast<size_t>(gpu)];
  const int32_t node = g.node;
  std::vector<int64_t> waiting;
  waiting.swap(g.waiting_room);
  for (int64_t r : waiting) {
    // Where the model is warm (or loading) on another node by now, the request goes there (the
    // router would send it there now); else this GPU plans again.
    const size_t m = static_cast<size_t>(arrivals_[static_cast<size_t>(r)].model);
    const size_t warm_or_loading = by_tier_[m][kTierWarm].size() + by_tier_[m][kTierLoading].size();
    const bool here = Routable(static_cast<size_t>(node)) && tier_[m][static_cast<size_t>(node)] <= kTierLoading;
    const bool elsewhere = warm_or_loading > (here ? 1u : 0u);
    if (!elsewhere) {
      PlaceOnGpu(r, node);
      continue;
    }
    Node& from = nodes_[static_cast<size_t>(node)];
    from.load--;
    from.tracker->Leave(s_.models[static_cast<size_t>(arrivals_[static_cast<size_t>(r)].model)].name,
                        clock_.now / 1'000'000);
    reqs_[static_cast<size_t>(r)].node = -1;
    reqs_[static_cast<size_t>(r)].gpu = -1;
    Route(r);
  }
}

void Simulation::Finish(int64_t r, bool completed) {
  Req& q = reqs_[static_cast<size_t>(r)];
  RequestOutcome& o = result_.requests[static_cast<size_t>(r)];
  if (completed) o.finished_ns = clock_.now;
  if (q.node >= 0) {
    Node& node = nodes_[static_cast<size_t>(q.node)];
    node.load--;
    node.tracker->Leave(s_.models[static_cast<size_t>(o.model)].name, clock_.now / 1'000'000);
  }
  q.node = -1;
  q.gpu = -1;
  std::vector<int32_t>().swap(q.committed);
  unfinished_--;
  if (q.active_pos >= 0) {
    const int64_t last = active_.back();
    active_[static_cast<size_t>(q.active_pos)] = last;
    reqs_[static_cast<size_t>(last)].active_pos = q.active_pos;
    active_.pop_back();
    q.active_pos = -1;
  }
}

std::vector<int64_t> Simulation::RequestsOn(int32_t n) const {
  std::vector<int64_t> on;
  for (int64_t r : active_) {
    if (reqs_[static_cast<size_t>(r)].node == n) on.push_back(r);
  }
  std::sort(on.begin(), on.end());
  return on;
}

// Takes an unfinished request off its node (its scheduler, or a queue waiting for a load or for
// room), keeping its committed tokens (a migration) or dropping them (a restart).
void Simulation::Displace(int64_t r, bool keep_tokens) {
  Req& q = reqs_[static_cast<size_t>(r)];
  RequestOutcome& o = result_.requests[static_cast<size_t>(r)];
  if (q.gpu >= 0) {
    Materialize(q.gpu);
    Gpu& g = gpus_[static_cast<size_t>(q.gpu)];
    Resident* res = FindResident(q.gpu, o.model);
    if (res && res->sched && res->sched->Abort(static_cast<scheduler::RequestId>(r))) res->active--;
    if (res) std::erase(res->pending, r);
    std::erase(g.waiting_room, r);
  }
  if (q.node >= 0) {
    Node& node = nodes_[static_cast<size_t>(q.node)];
    node.load--;
    node.tracker->Leave(s_.models[static_cast<size_t>(o.model)].name, clock_.now / 1'000'000);
  }
  q.node = -1;
  q.gpu = -1;
  if (keep_tokens) {
    o.migrations++;
  } else {
    q.committed.clear();
    o.restarts++;
  }
}

void Simulation::MoveTo(int64_t r, int32_t n) {
  Node& node = nodes_[static_cast<size_t>(n)];
  reqs_[static_cast<size_t>(r)].node = n;
  node.load++;
  node.tracker->Arrive(s_.models[static_cast<size_t>(arrivals_[static_cast<size_t>(r)].model)].name,
                       clock_.now / 1'000'000);
  PlaceOnGpu(r, n);
}

void Simulation::Window() {
  scheduler::ForecastOptions fo;
  fo.window_seconds = std::max<int64_t>(1, static_cast<int64_t>(s_.policy.window_s));
  fo.period_seconds = std::max<int64_t>(fo.window_seconds, static_cast<int64_t>(s_.policy.period_s));
  for (size_t n = 0; n < nodes_.size(); ++n) {
    Node& node = nodes_[n];
    if (!node.alive || node.leaving) continue;
    for (const auto& w : node.tracker->Advance(clock_.now / 1'000'000)) {
      auto& h = node.history[static_cast<size_t>(model_index_.at(w.model))];
      h.push_back(w.load);
      // Arrivals ride in the same history, one entry after each load, for their own forecast.
      h.push_back({static_cast<double>(w.arrivals), static_cast<double>(w.arrivals)});
    }
    std::vector<std::pair<std::string, double>> scores;
    std::vector<int32_t> scored;
    for (size_t m = 0; m < s_.models.size(); ++m) {
      const auto& h = node.history[m];
      node.scores[m] = 0;
      if (h.empty()) continue;
      std::vector<scheduler::WindowLoad> load, arrivals;
      for (size_t k = 0; k + 1 < h.size(); k += 2) {
        load.push_back(h[k]);
        arrivals.push_back(h[k + 1]);
      }
      const auto f = scheduler::PredictNext(load, fo);
      const auto fa = scheduler::PredictNext(arrivals, fo);
      node.predicted[m] = f.predicted;
      scheduler::ModelDemand d;
      d.name = s_.models[m].name;
      d.predicted_avg = f.predicted.avg;
      d.predicted_peak = f.predicted.peak;
      d.batch_size = s_.scheduler.max_num_seqs;
      d.bytes = s_.models[m].weight_bytes;
      d.load_bytes_per_s = s_.time.load.bytes_per_s;
      d.swap_in_bytes_per_s = s_.time.swap_in.bytes_per_s;
      d.staged = tier_[m][n] == kTierStaged;
      d.predicted_arrivals = fa.predicted.avg;
      // Under lru the node's own placement ignores the forecast (scores 0, no prewarm); the
      // leader's replica counts use it under both.
      if (s_.policy.placement == PlacementPolicy::kLru) continue;
      node.scores[m] = scheduler::ModelScore(d);
      if (node.scores[m] > 0) {
        scores.push_back({d.name, node.scores[m]});
        scored.push_back(static_cast<int32_t>(m));
      }
    }
    if (scores.empty()) continue;
    // One warm copy of a model per node: a GPU's target is taken off the next GPUs' lists.
    for (int32_t g = node.first_gpu; g < node.first_gpu + node.num_gpus; ++g) {
      auto plan = scheduler::PlanPrewarm(ViewOf(g, scored), scores);
      RunActions(g, plan.actions, true);
      std::erase_if(scores, [&](const auto& sc) {
        return std::find(plan.warm.begin(), plan.warm.end(), sc.first) != plan.warm.end();
      });
      if (scores.empty()) break;
    }
  }
  if (s_.policy.cluster_placement) PlanCluster(false);
  if (clock_.now < horizon_ns_) {
    q_.Push(clock_.now + static_cast<int64_t>(s_.policy.window_s * 1e9), EventKind::kWindow, 0, 0);
  }
}

void Simulation::PlanCluster(bool instant) {
  std::vector<scheduler::ClusterNode> in;
  std::vector<int32_t> index;
  for (size_t n = 0; n < nodes_.size(); ++n) {
    if (!Routable(n)) continue;
    const Node& node = nodes_[n];
    scheduler::ClusterNode c;
    c.name = node.name;
    c.spot = node.spot;
    c.price_per_hour = node.price_per_hour;
    c.memory_budget_bytes = node.gpu_memory;
    c.workers = node.num_gpus;
    c.staged_budget_bytes = node.staged_bytes * static_cast<uint64_t>(node.num_gpus);
    for (size_t m = 0; m < s_.models.size(); ++m) {
      scheduler::ClusterModel cm;
      cm.name = s_.models[m].name;
      cm.warm = tier_[m][n] <= kTierLoading;
      cm.staged = tier_[m][n] == kTierStaged;
      cm.home = node.home[m];
      cm.bytes = WarmBytes(static_cast<int32_t>(m));
      cm.predicted_avg = node.predicted[m].avg;
      cm.predicted_peak = node.predicted[m].peak;
      cm.batch_size = s_.scheduler.max_num_seqs;
      c.models.push_back(std::move(cm));
    }
    in.push_back(std::move(c));
    index.push_back(static_cast<int32_t>(n));
  }
  if (in.empty()) return;
  std::unordered_map<std::string, int32_t> by_name;
  for (int32_t n : index) by_name[nodes_[static_cast<size_t>(n)].name] = n;
  const auto plan = scheduler::PlanClusterPlacement(in);
  for (const auto& np : plan.nodes) {
    const int32_t n = by_name.at(np.node);
    Node& node = nodes_[static_cast<size_t>(n)];
    std::fill(node.home.begin(), node.home.end(), false);
    for (const auto& name : np.warm) {
      const int32_t m = model_index_.at(name);
      node.home[static_cast<size_t>(m)] = true;
      if (tier_[static_cast<size_t>(m)][static_cast<size_t>(n)] > kTierLoading) MakeWarm(n, m, instant);
    }
  }
}

void Simulation::MakeWarm(int32_t n, int32_t model, bool instant) {
  const Node& node = nodes_[static_cast<size_t>(n)];
  // The GPU holding its staged copy, else the one with the fewest pages in use.
  int32_t best = -1;
  int64_t best_key = INT64_MAX;
  for (int32_t g = node.first_gpu; g < node.first_gpu + node.num_gpus; ++g) {
    const Resident* res = FindResident(g, model);
    const int64_t used = static_cast<int64_t>(scheduler::PagesInUse(ViewOf(g)));
    const int64_t key = (res && res->has_copy ? 0 : (int64_t{1} << 40)) + used;
    if (key < best_key) {
      best_key = key;
      best = g;
    }
  }
  const auto plan = scheduler::PlanWarm(ViewOf(best, {model}), s_.models[static_cast<size_t>(model)].name);
  if (plan.outcome != scheduler::Outcome::kReady) return;  // no room now: the node's own policy decides
  RunActions(best, plan.actions, true);
  if (instant) ModelReady(best, model);
}

void Simulation::StartupFill(int32_t n) {
  const Node& node = nodes_[static_cast<size_t>(n)];
  std::vector<std::string> order;
  std::vector<int32_t> models;
  // Node n's order starts at model n (mod the count): the fleet's nodes list their models in
  // rotated orders, so that every model is warm somewhere, not only the first few everywhere.
  const size_t count = s_.models.size();
  for (size_t k = 0; k < count; ++k) {
    const size_t m = (static_cast<size_t>(n) + k) % count;
    if (tier_[m][static_cast<size_t>(n)] == kTierCold) {
      order.push_back(s_.models[m].name);
      models.push_back(static_cast<int32_t>(m));
    }
  }
  for (int32_t g = node.first_gpu; g < node.first_gpu + node.num_gpus && !order.empty(); ++g) {
    const auto plan = scheduler::PlanStartupFill(ViewOf(g, models), order);
    RunActions(g, plan.actions, false);
    for (const auto& a : plan.actions) {
      const int32_t m = model_index_.at(a.model);
      ModelReady(g, m);
      std::erase(order, a.model);
      std::erase(models, m);
    }
  }
}

int32_t Simulation::PickSpotVictim() const {
  // The spot node with the most requests (then the lowest index), as bench/spot takes the node
  // the model is warm on: a preemption that cuts nothing measures nothing. Deterministic.
  int32_t victim = -1;
  for (size_t n = 0; n < nodes_.size(); ++n) {
    const Node& node = nodes_[n];
    if (!node.spot || !node.alive || node.leaving) continue;
    if (victim < 0 || node.load > nodes_[static_cast<size_t>(victim)].load) victim = static_cast<int32_t>(n);
  }
  return victim;
}

void Simulation::SpotNotice(int32_t n) {
  Node& node = nodes_[static_cast<size_t>(n)];
  MaterializeNode(n);  // the committed tokens its requests carry
  node.leaving = true;
  for (size_t m = 0; m < s_.models.size(); ++m) tier_[m][static_cast<size_t>(n)] = kTierCold;
  ReindexNode(n);
  // Its unfinished requests, by model.
  std::map<int32_t, std::vector<int64_t>> by_model;
  for (int64_t r : RequestsOn(n)) by_model[arrivals_[static_cast<size_t>(r)].model].push_back(r);
  if (by_model.empty()) return;
  scheduler::MigrationInput in;
  in.block_tokens = static_cast<uint32_t>(s_.scheduler.block_size);
  for (const auto& [m, rs] : by_model) {
    scheduler::DisplacedModel d;
    d.name = s_.models[static_cast<size_t>(m)].name;
    d.bytes = WarmBytes(m);
    d.kv_block_bytes = s_.models[static_cast<size_t>(m)].kv_bytes_per_token * in.block_tokens;
    for (int64_t r : rs) {
      d.requests.push_back({std::to_string(r), static_cast<uint32_t>(arrivals_[static_cast<size_t>(r)].prompt_tokens),
                            static_cast<uint64_t>(r), static_cast<uint32_t>(reqs_[static_cast<size_t>(r)].committed.size())});
    }
    in.displaced.push_back(std::move(d));
  }
  for (size_t k = 0; k < nodes_.size() && in.survivors.size() < 4096; ++k) {
    const Node& s = nodes_[k];
    if (!Routable(k)) continue;
    scheduler::SurvivorNode sv;
    sv.name = s.name;
    sv.spot = s.spot;
    for (int32_t g = s.first_gpu; g < s.first_gpu + s.num_gpus; ++g) {
      const auto view = ViewOf(g);
      const uint64_t budget = scheduler::BudgetPages(view);
      const uint64_t used = scheduler::PagesInUse(view);
      sv.free_bytes = std::max(sv.free_bytes, budget > used ? (budget - used) * s_.page_bytes : 0);
    }
    const int64_t slots = int64_t{s.num_gpus} * s_.scheduler.max_num_seqs - s.load;
    sv.free_request_slots = static_cast<uint32_t>(std::max<int64_t>(0, slots));
    for (const auto& [m, rs] : by_model) {
      const int8_t t = tier_[static_cast<size_t>(m)][k];
      sv.models.push_back({s_.models[static_cast<size_t>(m)].name,
                           t == kTierWarm ? scheduler::Residency::kWarm
                                          : (t == kTierStaged ? scheduler::Residency::kStaged : scheduler::Residency::kCold)});
    }
    in.survivors.push_back(std::move(sv));
  }
  std::unordered_map<std::string, int32_t> node_index;
  for (size_t k = 0; k < nodes_.size(); ++k) node_index[nodes_[k].name] = static_cast<int32_t>(k);
  const auto plan = scheduler::PlanMigration(in);
  result_.counters.migrated_models += static_cast<int64_t>(plan.moves.size());
  for (const auto& move : plan.moves) {
    for (const auto& id : move.requests) {
      const int64_t r = std::stoll(id);
      Displace(r, true);
      MoveTo(r, node_index.at(move.node));
    }
  }
  for (const auto& u : plan.unplaced) {
    for (const auto& id : u.requests) {
      const int64_t r = std::stoll(id);
      Displace(r, true);
      Route(r);
    }
  }
}

void Simulation::SpotRemove(int32_t n) {
  Node& node = nodes_[static_cast<size_t>(n)];
  if (!node.alive) return;
  MaterializeNode(n);
  Account(n, clock_.now);
  result_.counters.preemptions++;
  node.alive = false;
  node.leaving = true;
  for (size_t m = 0; m < s_.models.size(); ++m) tier_[m][static_cast<size_t>(n)] = kTierCold;
  ReindexNode(n);
  const std::vector<int64_t> cut = RequestsOn(n);
  for (int64_t r : cut) Displace(r, false);
  for (int32_t g = node.first_gpu; g < node.first_gpu + node.num_gpus; ++g) {
    Gpu& gpu = gpus_[static_cast<size_t>(g)];
    const int64_t epoch = gpu.epoch + 1;
    gpu = Gpu{n};
    gpu.epoch = epoch;
  }
  for (int64_t r : cut) Route(r);
}

void Simulation::SpotAdd() {
  for (size_t n = 0; n < nodes_.size(); ++n) {
    if (nodes_[n].spot && !nodes_[n].alive) {
      const int64_t epoch = gpus_[static_cast<size_t>(nodes_[n].first_gpu)].epoch;
      BringUp(static_cast<int32_t>(n));
      for (int32_t g = nodes_[n].first_gpu; g < nodes_[n].first_gpu + nodes_[n].num_gpus; ++g) {
        gpus_[static_cast<size_t>(g)].epoch = epoch + 1;
      }
      break;
    }
  }
  std::vector<int64_t> homeless;
  homeless.swap(homeless_);
  for (int64_t r : homeless) Route(r);
}

void Simulation::Handle(const Event& e) {
  switch (e.kind) {
    case EventKind::kArrival:
      reqs_[static_cast<size_t>(e.arg)].active_pos = static_cast<int64_t>(active_.size());
      active_.push_back(e.arg);
      Route(e.arg);
      break;
    case EventKind::kStepDone:
      if (gpus_[static_cast<size_t>(e.target)].epoch != (e.arg >> kEpochShift)) break;
      if ((e.arg & kRunFlag) != 0) {
        RunDone(e.target);
      } else {
        StepDone(e.target);
      }
      break;
    case EventKind::kModelReady:
      if (gpus_[static_cast<size_t>(e.target)].epoch == (e.arg >> 20)) {
        ModelReady(e.target, static_cast<int32_t>(e.arg & ((1 << 20) - 1)));
      }
      break;
    case EventKind::kWindow:
      Window();
      break;
    case EventKind::kSpotNotice: {
      const int32_t victim = PickSpotVictim();
      if (victim < 0) break;
      SpotNotice(victim);
      q_.Push(std::max(clock_.now, e.arg), EventKind::kSpotRemove, victim, 0);
      break;
    }
    case EventKind::kSpotRemove: {
      const int32_t victim = e.target >= 0 ? e.target : PickSpotVictim();
      if (victim >= 0) SpotRemove(victim);
      break;
    }
    case EventKind::kSpotAdd:
      SpotAdd();
      break;
    case EventKind::kRetry:
      if (gpus_[static_cast<size_t>(e.target)].epoch == e.arg) {
        gpus_[static_cast<size_t>(e.target)].retry_pending = false;
        RetryRoom(e.target);
      }
      break;
  }
}

StatusOr<SimResult> Simulation::Run(const ProgressFn& progress) {
  HEARTH_RETURN_IF_ERROR(Setup());
  const int64_t limit_ns = horizon_ns_ + kDrainLimitNs;
  int64_t handled = 0;
  while (!q_.empty() && unfinished_ > 0) {
    const Event e = q_.Pop();
    if (e.kind == EventKind::kStepDone && (e.arg & kRunFlag) != 0) {
      const Gpu& g = gpus_[static_cast<size_t>(e.target)];
      // A run cut short by something that touched its GPU: its steps were applied then, and the
      // step it had in flight has its own event. Not an event of the step-by-step simulation.
      if (g.epoch != (e.arg >> kEpochShift) || g.run_steps == 0 || g.run_serial != (e.arg & kSerialMask)) continue;
    }
    if (e.time_ns > limit_ns) {
      // Steps of runs in flight that end by the limit are events the step-by-step run handled.
      clock_.now = std::max(clock_.now, SettleRuns(limit_ns));
      break;
    }
    clock_.now = e.time_ns;
    current_is_step_ = e.kind == EventKind::kStepDone;
    current_target_ = e.target;
    SampleCost(clock_.now);
    Handle(e);
    ++result_.counters.events;
    if ((++handled & 0xffff) == 0 && progress) progress(clock_.now, horizon_ns_);
  }
  SampleCost(clock_.now);
  for (size_t n = 0; n < nodes_.size(); ++n) Account(static_cast<int32_t>(n), clock_.now);
  result_.handled_events = handled;
  result_.counters.busy_gpu_hours = static_cast<double>(busy_ns_) / 3.6e12;
  result_.end_ns = clock_.now;
  if (progress) progress(horizon_ns_, horizon_ns_);
  return std::move(result_);
}

}  // namespace

StatusOr<SimResult> RunSimulation(const Scenario& scenario, const std::vector<SimArrival>& arrivals,
                                  const std::vector<SpotChange>& spot, int32_t initial_spot,
                                  const ProgressFn& progress, const RunOptions& options) {
  Simulation sim(scenario, arrivals, spot, initial_spot, options);
  return sim.Run(progress);
}

}  // namespace hearth::sim
