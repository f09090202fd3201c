// A draining node hands the requests it serves for other nodes to the nodes its migration plan
// chose (docs/cluster.md, "KV transfer"): for each, it either sends the KV blocks the request
// has computed here to that node's prefix cache, over the cluster's Asio client (POST
// /cluster/v1/kv, kv_route.h), or lets the node recompute them from the request's tokens; the
// choice is scheduler::ChooseKvMove's, from the measured link and prefill speeds. Each request
// is reported as soon as it is ready to move, so that the caller ends it here (its entry node
// then resubmits it to the node named) while the others are still on their way.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "daemon/engine/kv_prefix.h"
#include "daemon/routing/forward_client.h"
#include "scheduler/kv_move.h"

namespace hearth::daemon {

struct KvHandoffRequest {
  uint64_t id = 0;   // this node's engine's id for it
  std::string node;  // where it goes; empty: nowhere planned (it is recomputed wherever its entry sends it)
  std::optional<PeerAddress> peer;  // that node's API; none: recomputed
};

struct KvHandoffResult {
  uint64_t id = 0;
  std::string node;
  scheduler::KvMove move = scheduler::KvMove::kRecompute;
  int32_t blocks = 0;  // imported on the node (a transfer can import fewer than it sent: all were cached, no room)
  int32_t tokens = 0;  // the tokens the imported blocks hold: not recomputed there
  uint64_t bytes = 0;  // sent
  double seconds = 0;  // its transfer, from the export to the last part's answer
  Status status;       // of the transfer; not OK: it is recomputed after all
};

struct KvHandoffSummary {
  std::vector<KvHandoffResult> results;
  double link_bytes_per_second = 0;      // measured by this handoff's first transfer; 0: none ran
  double prefill_tokens_per_second = 0;  // this node's, measured while serving; 0: unknown
  double seconds = 0;                    // the whole handoff
};

struct KvHandoffOptions {
  scheduler::KvMovePolicy policy = scheduler::KvMovePolicy::kAuto;
  std::string token;               // the cluster token
  ForwardClient* client = nullptr; // must outlive the call
  // The requests' computed KV blocks (PlacingEngine::ExportKv), and this node's prefill speed.
  std::function<StatusOr<std::map<uint64_t, KvPrefix>>(const std::vector<uint64_t>& ids, double* prefill_tokens_per_second)>
      export_kv;
};

// Runs the handoff until every request is reported or `deadline` passes (a transfer not
// answered by then is given up, and its request recomputed). `ready` hears each request once,
// on any thread, possibly several at once.
KvHandoffSummary RunKvHandoff(const KvHandoffOptions& options, const std::vector<KvHandoffRequest>& requests,
                              std::chrono::steady_clock::time_point deadline,
                              const std::function<void(const KvHandoffResult&)>& ready);

// One part of a transfer (kv_wire.h), sent and answered: the blocks the peer imported.
StatusOr<int32_t> SendKvPart(ForwardClient& client, const PeerAddress& peer, const std::string& token,
                             const KvPrefix& part, std::chrono::steady_clock::time_point deadline);

}  // namespace hearth::daemon
