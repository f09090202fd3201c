// Applies this node's placement targets (docs/cluster.md, "Placement across nodes") through the
// model registry: warm targets are loaded and pinned, staged targets staged (when staging is
// on); nothing is ever unloaded, so a request in flight is never cut. A model that leaves the
// warm targets is unpinned, if the cluster pinned it, and the node's own policy (least recently
// used, or the prewarmer's plan) may evict it again. The pin is how the cluster's home for a
// model and the local prewarmer do not fight: the prewarmer never evicts a pinned model.
//
// Fencing: targets from an epoch older than the newest this node has applied are ignored and
// counted, never applied: they come from a leader that has been deposed since.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "cluster/node_targets.h"
#include "daemon/models/model_control.h"

namespace hearth::daemon {

struct AppliedTargets {
  int64_t epoch = 0;          // the newest epoch applied (0: none)
  std::string leader;         // whose targets they were
  std::vector<std::string> warm, staged;
  int64_t stale_ignored = 0;  // targets ignored for an epoch older than `epoch`
  std::string last_error;     // of the last action that failed; empty after a clean pass
};

class TargetApplier {
 public:
  // `models` must outlive the applier; `staging` says whether the node stages (a staged budget).
  TargetApplier(ModelControl* models, bool staging);

  // Applies `targets` read at `mod_revision` unless its epoch is older than the newest applied:
  // true when applied (again: applying the same targets twice does nothing the second time).
  bool Apply(const cluster::NodeTargets& targets, int64_t mod_revision);
  AppliedTargets applied() const;

 private:
  ModelControl* const models_;
  const bool staging_;

  std::mutex apply_mu_;                    // one pass at a time
  std::set<std::string> pinned_by_us_;     // GUARDED_BY(apply_mu_)
  int64_t last_ignored_revision_ = 0;      // GUARDED_BY(apply_mu_): each stale write counted once
  mutable std::mutex mu_;
  AppliedTargets applied_;                 // GUARDED_BY(mu_)
};

}  // namespace hearth::daemon
