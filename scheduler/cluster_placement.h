// Placement of models across the nodes of a cluster: which node is each model's home, holding
// it warm (and pinned there), and which node keeps a staged copy ready, so that every model in
// the catalogue is warm on at least one node where it fits. The elected leader runs it over the
// nodes' published records (docs/cluster.md, "Placement across nodes").
//
// Design. The catalogue is every model some node registers; a model can only be placed on a
// node that registers it (its file is that node's). How many warm replicas a model gets comes
// from the nodes' forecasts (WarmServe's replicas, as scheduler/prewarm.h counts them for one
// worker): with the cluster's predicted requests in flight summed over the nodes (avg, peak)
// and B the largest batch size a node measured for it (kDefaultClusterBatch when none did),
//   foundation = max(1, ceil(avg / B)),  burst = max(0, ceil(peak / B) - foundation),
// at most one replica per node. Foundation replicas are the load the forecast expects all the
// time; burst replicas only its peaks, so they are what a cheap, preemptible node is for.
// Replicas are placed one at a time: every model's first foundation replica (largest model
// first, then by name), then the second ones, and so on; then the burst replicas in the same
// order; so no model's extra replica takes the room of another model's first. Each goes to the
// best node where it fits and that holds no replica of it yet, by these keys in order:
//   1. a foundation replica on-demand before spot (the only guaranteed replica should not
//      vanish with a spot node); a burst replica spot before on-demand;
//   2. a node where it is already warm (or loading) before one where it is not, and among those
//      the node that is its home now (the previous plan's): no churn;
//   3. the cheaper node (price per hour), then the node with more room left, then the name.
// A node's room is its memory budget per worker times its workers, less the homes already
// given to it; a model also has to fit one worker's budget (a budget of 0 is no limit). Copies
// that are warm but are no model's home are not targets: the node's own policy keeps or evicts
// them. Then, on nodes with staging (a staged budget above 0), each placed model gets one
// staged copy on a node that holds no replica of it, by the same keys (on-demand first) with
// "already staged" in place of "already warm", within the staged budget. Models whose every
// replica is on a spot node get theirs first: a spot node's loss is what the copy is for.
// A model that fits nowhere is left unplaced.
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
  // The node's forecast for the model's next window (requests in flight it runs: average and
  // peak) and the batch size it measured for the model (0: none yet).
  double predicted_avg = 0;
  double predicted_peak = 0;
  int32_t batch_size = 0;
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

// How many warm replicas a model was given, and where.
struct ClusterReplicas {
  std::string model;
  int32_t foundation = 0;          // wanted, by the forecast
  int32_t burst = 0;               // wanted, beyond the foundation
  std::vector<std::string> nodes;  // where they went, foundation first (fewer when room ran out)
};

struct ClusterPlan {
  std::vector<ClusterNodePlan> nodes;  // one per node, by name
  std::vector<ClusterReplicas> replicas;  // one per placed model, by name
  std::vector<std::string> unplaced;   // models that fit on no node, sorted
};

ClusterPlan PlanClusterPlacement(const std::vector<ClusterNode>& nodes);

// The replicas per model for a summed forecast (the formula above); foundation is at least 1.
struct ReplicaCount {
  int32_t foundation = 1;
  int32_t burst = 0;
};
ReplicaCount CountClusterReplicas(double predicted_avg, double predicted_peak, int32_t batch_size);

inline constexpr int32_t kDefaultClusterBatch = 32;
// No model gets more replicas than this, whatever its forecast says.
inline constexpr int32_t kMaxClusterReplicas = 1024;

}  // namespace hearth::scheduler
