// The receiving side of a KV transfer (docs/cluster.md, "KV transfer"): POST /cluster/v1/kv on
// the API port takes one request's computed KV blocks from a draining peer (kv_wire.h) and puts
// them in the model's prefix cache here, so that the request, resubmitted here by its entry
// node, runs only what the blocks do not hold. The answer is one server-sent event,
// {"imported_blocks": N}, read by the peer's Asio client like a forwarded stream. Only peers
// holding the cluster token get in (401); a node that takes no routed work answers 503.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"
#include "daemon/engine/kv_prefix.h"

namespace hearth::http {
class Router;
}

namespace hearth::daemon {

struct KvRouteOptions {
  std::string token;  // the cluster token; empty refuses every call
  // Empty when this node may take routed work; else why not.
  std::function<std::string()> refusal;
  // The model's vocabulary size here; 0: the model is unknown here (404).
  std::function<int32_t(const std::string& model)> vocab_size;
  // Imports the blocks (PlacingEngine::ImportKv): how many were written.
  std::function<StatusOr<int32_t>(const KvPrefix&)> import;
  // Heard after each import that wrote blocks (may be empty).
  std::function<void(int32_t blocks, uint64_t bytes)> on_import;
};

void RegisterKvRoute(http::Router& router, KvRouteOptions options);

// The data of the answer's event, and reading it back: the blocks written.
std::string KvImportedEvent(int32_t blocks);
StatusOr<int32_t> ParseKvImportedEvent(const std::string& data);

}  // namespace hearth::daemon
