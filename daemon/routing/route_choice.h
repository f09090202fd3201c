// Which node serves a request (docs/cluster.md, "How routing decides"). Pure: the caller
// gathers what it knows of each node. The cost, compared in this order:
//   1. the model's state there: warm, then loading (warm within a swap-in), then staged (a
//      host copy: swap-in at memory speed), then registered (a cold load from disk). A cold
//      start costs seconds and a forward about a millisecond, so state dominates.
//   2. load: among the nodes of the best state, those within `balance_slack` requests of the
//      least loaded one.
//   3. this node, when it is one of those: a forward costs a hop, and clients spread over the
//      nodes (a load balancer in front) spread the work already.
//   4. prefix affinity: otherwise the one that ranks highest for the prompt's first tokens
//      (rendezvous hashing), so requests sharing a prefix meet the same prefix cache, and a
//      node joining or leaving moves only its own share.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::daemon {

struct RouteCandidate {
  std::string node;
  // The model's state there, as the node publishes it ("warm", "loading", "staged", "staging",
  // "registered", "unloading"); empty: the node does not host the model.
  std::string state;
  int64_t load = 0;  // requests known to be queued or running there
  bool self = false;  // the node choosing
};

struct RouteChoiceOptions {
  int64_t balance_slack = 4;
};

// 0 warm, 1 loading, 2 staged or staging, 3 registered or unloading; -1: not hosted there.
int StateTier(std::string_view state);

// A hash of the prompt's first tokens (at most 64: the prefix that requests share).
uint64_t PrefixHash(std::span<const int32_t> prompt);

// The index of the chosen candidate, or -1 when none hosts the model.
int ChooseRoute(const std::vector<RouteCandidate>& candidates, uint64_t prefix_hash,
                RouteChoiceOptions options = {});

}  // namespace hearth::daemon
