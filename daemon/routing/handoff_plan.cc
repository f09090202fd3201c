#include "daemon/routing/handoff_plan.h"

#include <algorithm>
#include <limits>

namespace hearth::daemon {
namespace {

// Nodes do not publish their load: a survivor's request slots are not what limits the plan.
constexpr uint32_t kUnknownSlots = 1u << 20;

scheduler::Residency ResidencyOf(const std::string& state) {
  if (state == "warm" || state == "loading") return scheduler::Residency::kWarm;
  if (state == "staged" || state == "staging") return scheduler::Residency::kStaged;
  return scheduler::Residency::kCold;
}

}  // namespace

scheduler::MigrationInput MigrationInputOf(const std::string& self, const std::vector<cluster::NodeRecord>& members,
                                           const std::vector<ServedForwards::Request>& served,
                                           const std::map<std::string, uint64_t>& model_bytes) {
  scheduler::MigrationInput in;
  std::map<std::string, scheduler::DisplacedModel> displaced;
  for (const ServedForwards::Request& r : served) {
    scheduler::DisplacedModel& m = displaced[r.model];
    m.name = r.model;
    auto bytes = model_bytes.find(r.model);
    m.bytes = bytes == model_bytes.end() ? 0 : bytes->second;
    m.requests.push_back({std::to_string(r.id), r.prompt_tokens, r.prefix_hash, r.committed_tokens});
  }
  for (auto& [name, m] : displaced) in.displaced.push_back(std::move(m));
  for (const cluster::NodeRecord& r : members) {
    if (r.name == self || r.draining) continue;
    scheduler::SurvivorNode n;
    n.name = r.name;
    n.spot = r.instance == "spot";
    n.free_request_slots = kUnknownSlots;
    uint64_t warm = 0;
    for (const cluster::ModelPresence& m : r.models) {
      const scheduler::Residency residency = ResidencyOf(m.state);
      if (residency == scheduler::Residency::kWarm) warm += m.bytes;
      n.models.push_back({m.name, residency});
    }
    if (r.memory_budget_bytes == 0) {
      n.free_bytes = std::numeric_limits<uint64_t>::max() / 4;  // no budget: room for anything
    } else {
      const uint64_t budget = r.memory_budget_bytes * static_cast<uint64_t>(std::max(1, r.workers));
      n.free_bytes = budget > warm ? budget - warm : 0;
    }
    in.survivors.push_back(std::move(n));
  }
  return in;
}

std::vector<cluster::Handoff> HandoffsOf(const scheduler::MigrationPlan& plan) {
  std::vector<cluster::Handoff> out;
  for (const scheduler::MigrationMove& m : plan.moves) out.push_back({m.model, m.node});
  return out;
}

}  // namespace hearth::daemon
