// This hearthd as a node of a cluster (docs/cluster.md): its etcd client and membership, the
// record it publishes (built from the model registry and the configuration), its part in the
// placement across nodes (a candidate for leader; while it leads, it plans over every node's
// record and writes each node's targets, fenced; every node applies its own targets), and what
// the admin API, /readyz and /metrics show of the cluster.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "cluster/election.h"
#include "cluster/etcd_client.h"
#include "cluster/membership.h"
#include "cluster/node_targets.h"
#include "common/status.h"
#include "daemon/cluster/target_applier.h"
#include "daemon/models/model_control.h"
#include "daemon/ops/cost.h"
#include "scheduler/cluster_placement.h"

namespace hearth::daemon {

struct ClusterNodeOptions {
  std::vector<std::string> etcd;  // client URLs
  std::string name;
  std::string advertise;  // http://HOST:PORT of the API
  std::string admin;      // http://HOST:PORT of the admin API
  std::string instance = "on-demand";
  double price_per_hour = 0;
  std::string prefix = "hearth/";
  uint64_t memory_budget_bytes = 0;
  uint64_t staged_budget_bytes = 0;
  int32_t workers = 1;
  std::string version;
  int64_t ttl_seconds = 10;
  // How often the leader plans and every node reads and applies its targets.
  std::chrono::milliseconds placement_interval{2000};
  // True while the node takes no new work (published: routers skip it); may be empty.
  std::function<bool()> draining;
  // This node's cost so far (docs/cluster.md, "What it costs"), shown under "cost"; may be empty.
  std::function<NodeCost()> cost;
};

class ClusterNode {
 public:
  // InvalidArgument for an etcd URL that cannot be used. `models` must outlive the node.
  static StatusOr<std::unique_ptr<ClusterNode>> Create(ClusterNodeOptions options, ModelControl* models);
  ~ClusterNode();  // Stop()

  // Joins: the membership's thread takes a lease and publishes (etcd being down is no error:
  // the node serves, degraded, and joins when etcd answers); the election's thread campaigns;
  // the placement thread plans (while leading) and applies this node's targets.
  void Start();
  // Leaves: resigns if leading, then the lease is revoked, the record goes at once. Safe to
  // call twice.
  void Stop();
  // One placement round on the caller's thread: while leading, plan and write the targets that
  // changed; find out who leads; read and apply this node's targets.
  void PlacementRound();

  cluster::MembershipView view() const { return membership_->view(); }
  int64_t etcd_errors() const { return membership_->etcd_errors(); }
  // Empty when the node is a healthy member; else why it is degraded.
  std::string Degraded() const;
  // GET /admin/v1/cluster.
  std::string Json() const;

  // While draining: where each of its models goes (the migration plan), published with its
  // record so that those nodes load them before the requests are handed over.
  void SetHandoff(std::vector<cluster::Handoff> handoff);

 private:
  ClusterNode(ClusterNodeOptions options, std::unique_ptr<cluster::EtcdClient> etcd, ModelControl* models);
  // Loads what a draining peer's plan hands to this node (once per peer and model).
  void ApplyHandoffs();
  cluster::NodeRecord Self() const;
  std::string TargetsKey(const std::string& node) const { return options_.prefix + "targets/" + node; }
  // While leading: plans over the membership's view and writes, fenced, the targets that differ
  // from what etcd holds.
  void Lead(const cluster::LeaderKey& leadership);
  void ApplyOwnTargets();
  void Failed(const Status& st);  // records the last placement error

  // Constant after construction.
  const ClusterNodeOptions options_;
  const std::unique_ptr<cluster::EtcdClient> etcd_;
  ModelControl* const models_;
  std::unique_ptr<cluster::Membership> membership_;
  std::unique_ptr<cluster::Election> election_;
  std::unique_ptr<TargetApplier> applier_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                  // GUARDED_BY(mu_)
  std::string placement_error_;            // GUARDED_BY(mu_): of the last round; empty after a good one
  int64_t invalid_targets_ = 0;            // GUARDED_BY(mu_): this node's targets that did not decode
  std::vector<std::string> unplaced_;      // GUARDED_BY(mu_): while leading, models that fit nowhere
  std::vector<scheduler::ClusterReplicas> replicas_;  // GUARDED_BY(mu_): while leading, the last plan's
  std::vector<cluster::Handoff> handoff_;  // GUARDED_BY(mu_): published while draining
  std::set<std::string> handoffs_taken_;   // placement thread only: "peer/model" loaded here
  std::mutex round_mu_;                    // one placement round at a time
  std::thread placement_thread_;
};

// GET /admin/v1/cluster when no cluster is configured.
std::string NoClusterJson();

}  // namespace hearth::daemon
