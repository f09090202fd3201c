// A node's placement targets (docs/cluster.md, "Placement across nodes"): the models the
// leader wants it to hold warm and staged, stamped with the leader's epoch. JSON under
// PREFIX/targets/NAME, written only by the leader through a fenced write. Read back from etcd
// it is untrusted input: DecodeNodeTargets checks every field and bound.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hearth::cluster {

struct NodeTargets {
  int64_t epoch = 0;    // the leader's epoch: a node never applies one older than it has applied
  std::string leader;   // the leader's node name
  std::vector<std::string> warm;    // model names, sorted
  std::vector<std::string> staged;  // model names, sorted; none also warm
  bool operator==(const NodeTargets&) const = default;
};

std::string EncodeNodeTargets(const NodeTargets& targets);
// InvalidArgument naming the first field that is missing, of the wrong type or out of bounds.
StatusOr<NodeTargets> DecodeNodeTargets(std::string_view json);

}  // namespace hearth::cluster
