// The serving side of forwarding (docs/cluster.md, "Routing"): POST /cluster/v1/generate on
// the API port takes a request another node forwarded (forward_wire.h), runs it on this node's
// engine without storing it (its entry node stores it), and streams back each sampled token
// and the end as server-sent events. Only peers holding the cluster token get in (401
// otherwise); a node without a lease, or draining, answers 503 so its peer sends the request
// elsewhere.
#pragma once

#include <functional>
#include <string>

namespace hearth::http {
class Router;
}

namespace hearth::daemon {

class Engine;
class OpenStreams;

struct ForwardRouteOptions {
  // This node's engine (never the routing one: a forwarded request is not forwarded again).
  std::function<Engine*()> engine;
  std::string token;  // the cluster token; empty refuses every call
  // Empty when this node may take routed work; else why not (no lease, draining).
  std::function<std::string()> refusal;
  OpenStreams* open_streams = nullptr;  // may be null
};

void RegisterForwardRoute(http::Router& router, ForwardRouteOptions options);

}  // namespace hearth::daemon
