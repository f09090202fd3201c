// Placement of models across the nodes of a cluster: which node is each model's home, holding
// it warm (and pinned there), and which node keeps a staged copy ready, so that every model in
// the catalogue is warm on at least one node where it fits. The elected leader runs it over the
// nodes' published records (docs/cluster.md, "Placement across nodes").
//
// Design. The catalogue is every model some node registers; a model can only be placed on a
// node that registers it (its file is that node's). Models are placed one at a time, largest
// first (then by name), each on the best node where it fits, by these keys in order:
//   1. on-demand before spot: the only guaranteed replica should not vanish with a spot node;
//   2. a node where it is already warm (or loading) before one where it is not, and among those
//      the node that is its home now (the previous plan's): no churn;
//   3. the cheaper node (price per hour), then the node with more room left, then the name.
// A node's room is its memory budget per worker times its workers, less the homes already
// given to it; a model also has to fit one worker's budget (a budget of 0 is no limit). Copies
// that are warm but are no model's home are not targets: the node's own policy keeps or evicts
// them. Then, on nodes with staging (a staged budget above 0), each placed model gets one
// staged copy on another node, by the same keys with "already staged" in place of "already
// warm", within the staged budget. A model that fits nowhere is left unplaced.
//
// Pure and deterministic: the same nodes (in any order) give the same plan.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hearth::scheduler {

struct ClusterModel {
  std::string name;
  bool warm = false;    // warm or loading on the node
  bool staged = false;  // the node holds its staged copy
  bool home = false;    // the node is its home in the plan being followed (a warm target there)
  uint64_t bytes = 0;   // its size in the pool (0: not known, counted as fitting)
};

struct ClusterNode {
  std::string name;  // unique
  bool spot = false;
  double price_per_hour = 0;
  uint64_t memory_budget_bytes = 0;  // per worker; 0: no limit
  int32_t workers = 1;
  uint64_t staged_budget_bytes = 0;  // 0: staging off
  std::vector<ClusterModel> models;  // what it registers
};

struct ClusterNodePlan {
  std::string node;
  std::vector<std::string> warm;    // sorted
  std::vector<std::string> staged;  // sorted, none warm here
};

struct ClusterPlan {
  std::vector<ClusterNodePlan> nodes;  // one per node, by name
  std::vector<std::string> unplaced;   // models that fit on no node, sorted
};

ClusterPlan PlanClusterPlacement(const std::vector<ClusterNode>& nodes);

}  // namespace hearth::scheduler
