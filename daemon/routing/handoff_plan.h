// A draining node's migration plan (scheduler/migration_plan.h) from what it knows: the
// forwarded requests it serves, grouped by model, and the other members that take work, each
// with what it holds warm or staged and the room its memory budget leaves.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cluster/node_record.h"
#include "daemon/routing/forward_route.h"
#include "scheduler/migration_plan.h"

namespace hearth::daemon {

// `model_bytes`: each served model's size here (its room on a node where it is not warm).
scheduler::MigrationInput MigrationInputOf(const std::string& self, const std::vector<cluster::NodeRecord>& members,
                                           const std::vector<ServedForwards::Request>& served,
                                           const std::map<std::string, uint64_t>& model_bytes);

// The plan's moves as the node publishes them.
std::vector<cluster::Handoff> HandoffsOf(const scheduler::MigrationPlan& plan);

}  // namespace hearth::daemon
