#include "scheduler/placement.h"

#include <algorithm>
#include <initializer_list>

#include "common/check.h"

namespace hearth::scheduler {
namespace {

bool HoldsPages(ModelState s) {
  return s == ModelState::kLoading || s == ModelState::kWarm || s == ModelState::kUnloading;
}

bool Moving(ModelState s) {
  return s == ModelState::kStaging || s == ModelState::kLoading || s == ModelState::kUnloading;
}

// A copy of the view that the plan's actions are applied to as they are chosen, so that each
// decision sees the ones before it.
class Simulation {
 public:
  explicit Simulation(const WorkerView& view) : view_(view) {
    CHECK_GT(view_.page_bytes, 0u) << "the pool's page size";
    std::vector<std::string_view> names;
    for (const ModelView& m : view_.models) {
      names.push_back(m.name);
      CHECK(m.state != ModelState::kStaged || m.has_copy) << m.name << ": staged without a copy";
      CHECK(m.state != ModelState::kOnDisk || !m.has_copy) << m.name << ": on disk with a copy";
    }
    std::sort(names.begin(), names.end());
    CHECK(std::adjacent_find(names.begin(), names.end()) == names.end()) << "model names repeat";
  }

  const WorkerView& view() const { return view_; }
  uint64_t budget_pages() const { return BudgetPages(view_); }
  uint64_t pages_in_use() const { return PagesInUse(view_); }
  uint64_t pages_of(const ModelView& m) const { return PagesFor(m.warm_bytes, view_.page_bytes); }
  bool fits(const ModelView& m) const { return budget_pages() == 0 || pages_in_use() + pages_of(m) <= budget_pages(); }

  ModelView& Get(std::string_view name) {
    for (ModelView& m : view_.models) {
      if (m.name == name) return m;
    }
    CHECK(false) << "no model '" << name << "' in the view";
    __builtin_unreachable();
  }

  // The lowest-scored, then least recently used, warm model that is not pinned, not `except`,
  // and busy or not as asked; null when there is none. Ties go to the earlier model in the view.
  ModelView* LeastWorthWarm(std::string_view except, bool busy) {
    ModelView* pick = nullptr;
    for (ModelView& m : view_.models) {
      if (m.name == except || m.state != ModelState::kWarm || m.pinned || m.busy != busy) continue;
      if (!pick || Below(m, *pick)) pick = &m;
    }
    return pick;
  }

  // Goes before `b` when room is needed.
  static bool Below(const ModelView& a, const ModelView& b) {
    return a.score != b.score ? a.score < b.score : a.last_used < b.last_used;
  }

  // Makes `bytes` more fit the staged budget by dropping the lowest-scored, then least recently
  // used, copies of models that are only staged, that no load waits for and that are not in
  // `keep`. Drops nothing and returns false when even dropping all of them would not make room.
  bool MakeStagedRoom(uint64_t bytes, std::initializer_list<std::string_view> keep, std::vector<Action>& actions) {
    const uint64_t budget = view_.staged_budget_bytes;
    if (bytes > budget) return false;
    auto droppable = [&](const ModelView& m) {
      return m.state == ModelState::kStaged && !m.load_waiting &&
             std::find(keep.begin(), keep.end(), m.name) == keep.end();
    };
    uint64_t in_use = StagedBytesInUse(view_);
    uint64_t can_free = 0;
    for (const ModelView& m : view_.models) can_free += droppable(m) ? m.copy_bytes : 0;
    if (in_use - std::min(in_use, can_free) + bytes > budget) return false;
    while (in_use + bytes > budget) {
      ModelView* victim = nullptr;
      for (ModelView& m : view_.models) {
        if (droppable(m) && (!victim || Below(m, *victim))) victim = &m;
      }
      CHECK(victim != nullptr);
      actions.push_back({ActionKind::kUnload, victim->name});
      in_use -= victim->copy_bytes;
      victim->state = ModelState::kOnDisk;
      victim->has_copy = false;
    }
    return true;
  }

  // Evicts an idle, unpinned warm model for `target`: swapped out when staging has room for its
  // copy, else unloaded.
  void Evict(ModelView& victim, std::string_view target, std::vector<Action>& actions) {
    CHECK(victim.state == ModelState::kWarm && !victim.busy && !victim.pinned) << victim.name;
    const bool swap_out = view_.staged_budget_bytes > 0 &&
                          (victim.has_copy || MakeStagedRoom(victim.copy_bytes, {victim.name, target}, actions));
    actions.push_back({swap_out ? ActionKind::kSwapOut : ActionKind::kUnload, victim.name});
    victim.state = swap_out ? ModelState::kStaged : ModelState::kOnDisk;
    victim.has_copy = swap_out;
    victim.draining = false;
  }

  void Load(ModelView& m, std::vector<Action>& actions) {
    CHECK(m.state == ModelState::kOnDisk || m.state == ModelState::kStaged) << m.name;
    CHECK(fits(m)) << m.name;
    actions.push_back({m.has_copy ? ActionKind::kSwapIn : ActionKind::kLoad, m.name});
    m.state = ModelState::kWarm;
  }

 private:
  WorkerView view_;
};

std::string Quoted(std::string_view name) { return "model '" + std::string(name) + "'"; }

Plan Waiting(Plan plan, std::string reason) {
  plan.outcome = Outcome::kWait;
  plan.reason = std::move(reason);
  return plan;
}

Plan Refused(Plan plan, Refusal refusal, std::string reason) {
  plan.actions.clear();
  plan.outcome = Outcome::kRefused;
  plan.refusal = refusal;
  plan.reason = std::move(reason);
  return plan;
}

}  // namespace

const char* ActionKindName(ActionKind kind) {
  switch (kind) {
    case ActionKind::kLoad:
      return "load";
    case ActionKind::kSwapIn:
      return "swap_in";
    case ActionKind::kStage:
      return "stage";
    case ActionKind::kSwapOut:
      return "swap_out";
    case ActionKind::kUnload:
      return "unload";
    case ActionKind::kDrain:
      return "drain";
  }
  return "?";
}

uint64_t PagesFor(uint64_t bytes, uint64_t page_bytes) { return (bytes + page_bytes - 1) / page_bytes; }

uint64_t BudgetPages(const WorkerView& view) {
  if (view.pool_budget_bytes == 0) return 0;
  return std::max<uint64_t>(view.pool_budget_bytes / view.page_bytes, 1);
}

uint64_t PagesInUse(const WorkerView& view) {
  uint64_t pages = 0;
  for (const ModelView& m : view.models) pages += HoldsPages(m.state) ? PagesFor(m.warm_bytes, view.page_bytes) : 0;
  return pages;
}

uint64_t StagedBytesInUse(const WorkerView& view) {
  uint64_t bytes = 0;
  for (const ModelView& m : view.models) bytes += m.has_copy || m.state == ModelState::kStaging ? m.copy_bytes : 0;
  return bytes;
}

Plan PlanWarm(const WorkerView& view, std::string_view model) {
  Simulation sim(view);
  Plan plan;
  plan.worker = view.worker;
  ModelView& m = sim.Get(model);
  if (m.state == ModelState::kWarm) return plan;
  if (Moving(m.state)) return Waiting(std::move(plan), Quoted(model) + " is loading, staging or unloading");
  const uint64_t budget = sim.budget_pages();
  const uint64_t page = view.page_bytes;
  if (budget > 0 && sim.pages_of(m) > budget) {
    return Refused(std::move(plan), Refusal::kLargerThanBudget,
                   Quoted(model) + " needs about " + std::to_string(sim.pages_of(m) * page) +
                       " bytes, more than the whole memory budget of " + std::to_string(budget * page));
  }
  while (!sim.fits(m)) {
    if (ModelView* victim = sim.LeastWorthWarm(model, /*busy=*/false)) {
      sim.Evict(*victim, model, plan.actions);
      continue;
    }
    // Nothing can go now. Drain the lowest-scored, least recently used busy one (unless it drains already) so
    // that it goes once its requests end, and wait.
    ModelView* busy = sim.LeastWorthWarm(model, /*busy=*/true);
    if (busy && !busy->draining) {
      plan.actions.push_back({ActionKind::kDrain, busy->name});
      busy->draining = true;
    }
    return Waiting(std::move(plan), "no room for " + Quoted(model) + " in the memory budget of " +
                                        std::to_string(budget * page) +
                                        " bytes: every warm model is pinned or has requests");
  }
  sim.Load(m, plan.actions);
  return plan;
}

Plan PlanStage(const WorkerView& view, std::string_view model) {
  Simulation sim(view);
  Plan plan;
  plan.worker = view.worker;
  ModelView& m = sim.Get(model);
  if (m.state == ModelState::kStaged) return plan;
  if (Moving(m.state)) return Waiting(std::move(plan), Quoted(model) + " is loading, staging or unloading");
  const uint64_t budget = view.staged_budget_bytes;
  if (budget == 0) {
    return Refused(std::move(plan), Refusal::kStagingOff, "staging is off: set [workers] staged_budget_bytes");
  }
  if (m.state == ModelState::kWarm) {
    if (!m.has_copy && !sim.MakeStagedRoom(m.copy_bytes, {m.name}, plan.actions)) {
      return Refused(std::move(plan), Refusal::kNoStagedRoom,
                     "no room to stage " + Quoted(model) + " in the staged budget of " + std::to_string(budget) +
                         " bytes; it stays warm");
    }
    plan.actions.push_back({ActionKind::kSwapOut, m.name});
    return plan;
  }
  if (!sim.MakeStagedRoom(m.copy_bytes, {m.name}, plan.actions)) {
    return Refused(std::move(plan), Refusal::kNoStagedRoom,
                   "no room to stage " + Quoted(model) + " (" + std::to_string(m.copy_bytes) +
                       " bytes) in the staged budget of " + std::to_string(budget) + " bytes");
  }
  plan.actions.push_back({ActionKind::kStage, m.name});
  return plan;
}

Plan PlanStartupFill(const WorkerView& view, const std::vector<std::string>& order) {
  Simulation sim(view);
  Plan plan;
  plan.worker = view.worker;
  for (const std::string& name : order) {
    ModelView& m = sim.Get(name);
    if (m.state != ModelState::kOnDisk && m.state != ModelState::kStaged) continue;
    if (sim.fits(m)) sim.Load(m, plan.actions);
  }
  return plan;
}

}  // namespace hearth::scheduler
