#include "scheduler/prewarm.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "common/check.h"

namespace hearth::scheduler {
namespace {

double ColdStartSeconds(const ModelDemand& d) {
  const double speed = d.staged && d.swap_in_bytes_per_s > 0 ? d.swap_in_bytes_per_s : d.load_bytes_per_s;
  CHECK(speed > 0) << d.name;
  return static_cast<double>(d.bytes) / speed;
}

// Replicas of one model, `running` of them already warm.
std::vector<Replica> ReplicasOf(const ModelDemand& d, int32_t running) {
  CHECK(d.batch_size > 0) << d.name;
  const int64_t need_avg = static_cast<int64_t>(std::ceil(d.predicted_avg / d.batch_size));
  const int64_t need_peak = static_cast<int64_t>(std::ceil(d.predicted_peak / d.batch_size));
  const int64_t foundation = std::max<int64_t>(0, need_avg - running);
  const int64_t burst = std::max<int64_t>(0, need_peak - running - foundation);
  std::vector<Replica> out;
  const int64_t total = foundation + burst;
  if (total == 0) return out;
  const double cold = ColdStartSeconds(d);
  const double burst_factor = d.predicted_avg > 0 ? d.predicted_peak / d.predicted_avg : 1.0;
  for (int64_t i = 0; i < total; ++i) {
    Replica r;
    r.model = d.name;
    r.index = static_cast<int32_t>(i);
    r.burst = i >= foundation;
    r.score = std::exp(-static_cast<double>(i) / static_cast<double>(total)) * cold * (r.burst ? burst_factor : 1.0);
    out.push_back(r);
  }
  return out;
}

bool Higher(const std::pair<std::string, double>& a, const std::pair<std::string, double>& b) {
  return a.second != b.second ? a.second > b.second : a.first < b.first;
}

}  // namespace

std::vector<Replica> ScoreReplicas(const std::vector<ModelDemand>& demand) {
  std::vector<Replica> out;
  for (const ModelDemand& d : demand) {
    std::vector<Replica> r = ReplicasOf(d, d.running);
    out.insert(out.end(), r.begin(), r.end());
  }
  std::stable_sort(out.begin(), out.end(), [](const Replica& a, const Replica& b) { return a.score > b.score; });
  return out;
}

double ModelScore(const ModelDemand& demand) {
  const std::vector<Replica> r = ReplicasOf(demand, 0);
  const double requests = std::max(std::min(1.0, demand.predicted_peak), demand.predicted_arrivals);
  return r.empty() ? 0 : r.front().score * requests;
}

PrewarmPlan PlanPrewarm(const WorkerView& view, const std::vector<std::pair<std::string, double>>& scores) {
  std::map<std::string, double> score_of(scores.begin(), scores.end());
  std::vector<std::pair<std::string, double>> order;  // settled models, highest first
  for (const ModelView& m : view.models) {
    if (m.state == ModelState::kLoading || m.state == ModelState::kStaging || m.state == ModelState::kUnloading) {
      continue;
    }
    const double score = score_of.count(m.name) ? score_of[m.name] : 0.0;
    const bool incumbent = m.state == ModelState::kWarm || m.state == ModelState::kStaged;
    order.push_back({m.name, incumbent ? score * kIncumbentMargin : score});
  }
  std::sort(order.begin(), order.end(), Higher);
  auto find = [&](const std::string& name) -> const ModelView& {
    for (const ModelView& m : view.models) {
      if (m.name == name) return m;
    }
    CHECK(false) << name;
    return view.models.front();
  };
  const uint64_t page = view.page_bytes;
  CHECK(page > 0);
  const uint64_t budget_pages = BudgetPages(view);  // 0: no limit
  uint64_t pages = 0, staged_bytes = 0;
  // What stays whatever the scores say: moving models, pinned and busy warm ones.
  for (const ModelView& m : view.models) {
    const bool moving =
        m.state == ModelState::kLoading || m.state == ModelState::kStaging || m.state == ModelState::kUnloading;
    if (moving || (m.state == ModelState::kWarm && (m.pinned || m.busy))) {
      if (m.state != ModelState::kStaging) pages += PagesFor(m.warm_bytes, page);
      if (m.has_copy || m.state == ModelState::kStaging) staged_bytes += m.copy_bytes;
    }
  }
  PrewarmPlan plan;
  std::vector<std::string> warm_target, staged_target;
  for (const auto& [name, score] : order) {
    const ModelView& m = find(name);
    const bool kept = m.state == ModelState::kWarm && (m.pinned || m.busy);
    if (kept) {
      warm_target.push_back(name);
      continue;
    }
    if (score <= 0) {
      // Nobody is predicted to use it: it stays where it is while there is room for it.
      if (m.state == ModelState::kWarm && (budget_pages == 0 || pages + PagesFor(m.warm_bytes, page) <= budget_pages)) {
        pages += PagesFor(m.warm_bytes, page);
        warm_target.push_back(name);
        if (m.has_copy) staged_bytes += m.copy_bytes;
      } else if ((m.state == ModelState::kStaged || m.has_copy) && view.staged_budget_bytes > 0 &&
                 staged_bytes + m.copy_bytes <= view.staged_budget_bytes) {
        staged_bytes += m.copy_bytes;
        staged_target.push_back(name);
      }
      continue;
    }
    const uint64_t need = PagesFor(m.warm_bytes, page);
    if (budget_pages == 0 || pages + need <= budget_pages) {
      pages += need;
      warm_target.push_back(name);
      if (m.has_copy) staged_bytes += m.copy_bytes;  // a warm model keeps its copy
      continue;
    }
    if (view.staged_budget_bytes > 0 && staged_bytes + m.copy_bytes <= view.staged_budget_bytes) {
      staged_bytes += m.copy_bytes;
      staged_target.push_back(name);
    }
  }
  auto in = [](const std::vector<std::string>& v, const std::string& n) {
    return std::find(v.begin(), v.end(), n) != v.end();
  };
  // Room first: warm models leaving the pool, copies leaving the host budget.
  for (const auto& [name, score] : order) {
    const ModelView& m = find(name);
    if (m.state == ModelState::kWarm && !in(warm_target, name)) {
      CHECK(!m.pinned && !m.busy) << name;
      plan.actions.push_back({in(staged_target, name) ? ActionKind::kSwapOut : ActionKind::kUnload, name});
    } else if (m.state == ModelState::kStaged && !in(staged_target, name) && !in(warm_target, name)) {
      plan.actions.push_back({ActionKind::kUnload, name});
    }
  }
  // Then what the scores bring in, highest first.
  for (const auto& [name, score] : order) {
    const ModelView& m = find(name);
    if (in(warm_target, name) && m.state != ModelState::kWarm) {
      plan.actions.push_back({m.state == ModelState::kStaged ? ActionKind::kSwapIn : ActionKind::kLoad, name});
    } else if (in(staged_target, name) && m.state == ModelState::kOnDisk) {
      plan.actions.push_back({ActionKind::kStage, name});
    }
  }
  plan.warm = std::move(warm_target);
  plan.staged = std::move(staged_target);
  return plan;
}

}  // namespace hearth::scheduler
