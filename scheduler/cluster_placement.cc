#include "scheduler/cluster_placement.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <tuple>

namespace hearth::scheduler {
namespace {

constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();

struct Slot {
  const ClusterNode* node = nullptr;
  uint64_t room = 0;         // pool bytes left for homes
  uint64_t staged_room = 0;  // staged bytes left for copies
  ClusterNodePlan plan;
};

const ClusterModel* Find(const ClusterNode& n, const std::string& model) {
  for (const ClusterModel& m : n.models) {
    if (m.name == model) return &m;
  }
  return nullptr;
}

uint64_t PoolRoom(const ClusterNode& n) {
  if (n.memory_budget_bytes == 0) return kUnlimited;
  const uint64_t workers = static_cast<uint64_t>(std::max<int32_t>(1, n.workers));
  if (n.memory_budget_bytes > kUnlimited / workers) return kUnlimited;
  return n.memory_budget_bytes * workers;
}

// The best slot for `model` in the pool tier (homes) or the staged tier (copies), by the keys
// of the header: nullptr when it fits nowhere. Slots in `except` are never chosen.
Slot* Best(std::vector<Slot>& slots, const std::string& model, bool staged_tier, bool burst,
           const std::vector<const Slot*>& except) {
  Slot* best = nullptr;
  auto key = [&](const Slot& s, const ClusterModel& m) {
    const bool held = staged_tier ? m.staged : m.warm;
    const uint64_t room = staged_tier ? s.staged_room : s.room;
    const bool home = !staged_tier && m.home;
    return std::make_tuple(s.node->spot != burst, !held, !home, s.node->price_per_hour, kUnlimited - room,
                           s.node->name);
  };
  decltype(key(slots.front(), ClusterModel{})) best_key;
  for (Slot& s : slots) {
    const ClusterModel* m = Find(*s.node, model);
    if (m == nullptr || std::find(except.begin(), except.end(), &s) != except.end()) continue;
    const bool fits = staged_tier ? s.node->staged_budget_bytes > 0 && m->bytes <= s.staged_room
                                  : (s.node->memory_budget_bytes == 0 || m->bytes <= s.node->memory_budget_bytes) &&
                                        m->bytes <= s.room;
    if (!fits) continue;
    auto k = key(s, *m);
    if (best == nullptr || k < best_key) {
      best = &s;
      best_key = std::move(k);
    }
  }
  return best;
}

// A model of the catalogue: its size, the cluster's forecast for it, and where it went.
struct Entry {
  std::string name;
  uint64_t bytes = 0;
  double avg = 0, peak = 0;
  int32_t batch = 0;
  ReplicaCount count;
  std::vector<Slot*> homes;  // foundation first
};

int32_t Ceil(double x) {
  if (!(x > 0)) return 0;
  return x >= kMaxClusterReplicas ? kMaxClusterReplicas : static_cast<int32_t>(std::ceil(x));
}

}  // namespace

ReplicaCount CountClusterReplicas(double predicted_avg, double predicted_peak, int32_t batch_size) {
  const double b = batch_size > 0 ? batch_size : kDefaultClusterBatch;
  ReplicaCount c;
  c.foundation = std::max(1, Ceil(predicted_avg / b));
  c.burst = std::max(0, std::min(kMaxClusterReplicas, Ceil(std::max(predicted_avg, predicted_peak) / b)) - c.foundation);
  return c;
}

ClusterPlan PlanClusterPlacement(const std::vector<ClusterNode>& nodes) {
  std::vector<Slot> slots;
  for (const ClusterNode& n : nodes) {
    Slot s;
    s.node = &n;
    s.room = PoolRoom(n);
    s.staged_room = n.staged_budget_bytes;
    s.plan.node = n.name;
    slots.push_back(std::move(s));
  }
  std::sort(slots.begin(), slots.end(), [](const Slot& a, const Slot& b) { return a.node->name < b.node->name; });

  // The catalogue, each model at the largest size any node gives it and with the forecasts of
  // all nodes summed (in name order, so the sums do not depend on the nodes' order), largest
  // first.
  std::map<std::string, Entry> by_name;
  for (const Slot& s : slots) {
    for (const ClusterModel& m : s.node->models) {
      Entry& e = by_name[m.name];
      e.name = m.name;
      e.bytes = std::max(e.bytes, m.bytes);
      if (std::isfinite(m.predicted_avg) && m.predicted_avg > 0) e.avg += m.predicted_avg;
      if (std::isfinite(m.predicted_peak) && m.predicted_peak > 0) e.peak += m.predicted_peak;
      e.batch = std::max(e.batch, m.batch_size);
    }
  }
  std::vector<Entry> catalogue;
  for (auto& [name, e] : by_name) {
    e.count = CountClusterReplicas(e.avg, e.peak, e.batch);
    catalogue.push_back(std::move(e));
  }
  std::stable_sort(catalogue.begin(), catalogue.end(), [](const Entry& a, const Entry& b) { return a.bytes > b.bytes; });

  // Foundation replicas round by round, then burst replicas round by round.
  auto place = [&](Entry& e, bool burst) {
    std::vector<const Slot*> taken(e.homes.begin(), e.homes.end());
    Slot* home = Best(slots, e.name, /*staged_tier=*/false, burst, taken);
    if (home == nullptr) return false;
    const uint64_t bytes = Find(*home->node, e.name)->bytes;
    if (home->room != kUnlimited) home->room -= bytes;
    home->plan.warm.push_back(e.name);
    e.homes.push_back(home);
    return true;
  };
  for (const bool burst : {false, true}) {
    std::vector<bool> done(catalogue.size(), false);
    for (int32_t round = 0;; ++round) {
      bool any = false;
      for (size_t i = 0; i < catalogue.size(); ++i) {
        Entry& e = catalogue[i];
        const int32_t wanted = burst ? e.count.burst : e.count.foundation;
        if (done[i] || round >= wanted) continue;
        // A model that found no room for a replica gets no further ones in this phase.
        if (!place(e, burst)) done[i] = true; else any = true;
      }
      if (!any) break;
    }
  }

  // Staged copies: models held only by spot nodes first, then the others, each in catalogue order.
  std::vector<Entry*> staging;
  for (const bool spot_only : {true, false}) {
    for (Entry& e : catalogue) {
      if (e.homes.empty()) continue;
      const bool all_spot =
          std::all_of(e.homes.begin(), e.homes.end(), [](const Slot* s) { return s->node->spot; });
      if (all_spot == spot_only) staging.push_back(&e);
    }
  }
  for (Entry* e : staging) {
    std::vector<const Slot*> taken(e->homes.begin(), e->homes.end());
    Slot* copy = Best(slots, e->name, /*staged_tier=*/true, /*burst=*/false, taken);
    if (copy != nullptr) {
      copy->staged_room -= Find(*copy->node, e->name)->bytes;
      copy->plan.staged.push_back(e->name);
    }
  }

  ClusterPlan out;
  for (const Entry& e : catalogue) {
    if (e.homes.empty()) {
      out.unplaced.push_back(e.name);
      continue;
    }
    ClusterReplicas r;
    r.model = e.name;
    r.foundation = e.count.foundation;
    r.burst = e.count.burst;
    for (const Slot* s : e.homes) r.nodes.push_back(s->node->name);
    out.replicas.push_back(std::move(r));
  }
  std::sort(out.unplaced.begin(), out.unplaced.end());
  std::sort(out.replicas.begin(), out.replicas.end(),
            [](const ClusterReplicas& a, const ClusterReplicas& b) { return a.model < b.model; });
  for (Slot& s : slots) {
    std::sort(s.plan.warm.begin(), s.plan.warm.end());
    std::sort(s.plan.staged.begin(), s.plan.staged.end());
    out.nodes.push_back(std::move(s.plan));
  }
  return out;
}

}  // namespace hearth::scheduler
