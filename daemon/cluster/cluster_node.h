// This hearthd as a node of a cluster (docs/cluster.md): its etcd client and membership, the
// record it publishes (built from the model registry and the configuration), and what the
// admin API, /readyz and /metrics show of the cluster.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cluster/etcd_client.h"
#include "cluster/membership.h"
#include "common/status.h"
#include "daemon/models/model_control.h"

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
};

class ClusterNode {
 public:
  // InvalidArgument for an etcd URL that cannot be used. `models` must outlive the node.
  static StatusOr<std::unique_ptr<ClusterNode>> Create(ClusterNodeOptions options, ModelControl* models);
  ~ClusterNode();  // Stop()

  // Joins: the membership's thread takes a lease and publishes (etcd being down is no error:
  // the node serves, degraded, and joins when etcd answers).
  void Start();
  // Leaves: the lease is revoked, the record goes at once. Safe to call twice.
  void Stop();

  cluster::MembershipView view() const { return membership_->view(); }
  int64_t etcd_errors() const { return membership_->etcd_errors(); }
  // Empty when the node is a healthy member; else why it is degraded.
  std::string Degraded() const;
  // GET /admin/v1/cluster.
  std::string Json() const;

 private:
  ClusterNode(ClusterNodeOptions options, std::unique_ptr<cluster::EtcdClient> etcd, ModelControl* models);
  cluster::NodeRecord Self() const;

  const ClusterNodeOptions options_;
  const std::unique_ptr<cluster::EtcdClient> etcd_;
  ModelControl* const models_;
  std::unique_ptr<cluster::Membership> membership_;
};

// GET /admin/v1/cluster when no cluster is configured.
std::string NoClusterJson();

}  // namespace hearth::daemon
