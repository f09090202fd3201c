#include "scheduler/cluster_placement.h"

#include <algorithm>
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
// of the header: nullptr when it fits nowhere. `except` is never chosen.
Slot* Best(std::vector<Slot>& slots, const std::string& model, bool staged_tier, const Slot* except) {
  Slot* best = nullptr;
  auto key = [&](const Slot& s, const ClusterModel& m) {
    const bool held = staged_tier ? m.staged : m.warm;
    const uint64_t room = staged_tier ? s.staged_room : s.room;
    const bool home = !staged_tier && m.home;
    return std::make_tuple(s.node->spot, !held, !home, s.node->price_per_hour, kUnlimited - room, s.node->name);
  };
  decltype(key(slots.front(), ClusterModel{})) best_key;
  for (Slot& s : slots) {
    const ClusterModel* m = Find(*s.node, model);
    if (m == nullptr || &s == except) continue;
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

}  // namespace

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

  // The catalogue, each model at the largest size any node gives it, largest first.
  std::map<std::string, uint64_t> sizes;
  for (const ClusterNode& n : nodes) {
    for (const ClusterModel& m : n.models) sizes[m.name] = std::max(sizes[m.name], m.bytes);
  }
  std::vector<std::pair<std::string, uint64_t>> catalogue(sizes.begin(), sizes.end());
  std::stable_sort(catalogue.begin(), catalogue.end(), [](const auto& a, const auto& b) { return a.second > b.second; });

  ClusterPlan out;
  for (const auto& entry : catalogue) {
    const std::string& model = entry.first;
    Slot* home = Best(slots, model, /*staged_tier=*/false, nullptr);
    if (home == nullptr) {
      out.unplaced.push_back(model);
      continue;
    }
    const uint64_t bytes = Find(*home->node, model)->bytes;
    if (home->room != kUnlimited) home->room -= bytes;
    home->plan.warm.push_back(model);

    Slot* copy = Best(slots, model, /*staged_tier=*/true, home);
    if (copy != nullptr) {
      copy->staged_room -= Find(*copy->node, model)->bytes;
      copy->plan.staged.push_back(model);
    }
  }
  std::sort(out.unplaced.begin(), out.unplaced.end());
  for (Slot& s : slots) {
    std::sort(s.plan.warm.begin(), s.plan.warm.end());
    std::sort(s.plan.staged.begin(), s.plan.staged.end());
    out.nodes.push_back(std::move(s.plan));
  }
  return out;
}

}  // namespace hearth::scheduler
