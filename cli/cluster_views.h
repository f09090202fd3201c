// What `hearthctl cluster` prints from GET /admin/v1/cluster (docs/cluster.md).
#pragma once

#include <string>

#include "common/status.h"

namespace hearth::cli {

// This node's standing (member or degraded, its lease, etcd, the leader, its cost so far), then
// one row per node: name, instance type, price per hour, lease age, hours and cost so far, API
// URL, and its models with their states; then the cluster's cost so far (docs/cluster.md).
StatusOr<std::string> RenderCluster(const std::string& json);
// Every node's API (where /metrics is) as a Prometheus file_sd list:
// [{"targets":["HOST:PORT"],"labels":{"node":NAME,"instance_type":"spot"|"on-demand"}}, ...].
StatusOr<std::string> ClusterTargets(const std::string& json);

}  // namespace hearth::cli
