// The serving side of forwarding (docs/cluster.md, "Routing"): POST /cluster/v1/generate on
// the API port takes a request another node forwarded (forward_wire.h), runs it on this node's
// engine without storing it (its entry node stores it), and streams back each sampled token
// and the end as server-sent events. Only peers holding the cluster token get in (401
// otherwise); a node without a lease, or draining, answers 503 so its peer sends the request
// elsewhere.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace hearth::http {
class Router;
}

namespace hearth::daemon {

class Engine;
class OpenStreams;

// The forwarded requests this node serves now, by their id in its engine.
class ServedForwards {
 public:
  struct Progress {
    virtual ~Progress() = default;
    virtual bool started() const = 0;  // a token went out
    // The request's end, when it comes, names `node`: its entry node resubmits it there.
    virtual void HandOff(const std::string& node) = 0;
  };
  // What the migration plan needs of one (scheduler/migration_plan.h).
  struct Request {
    uint64_t id = 0;
    std::string model;
    uint32_t prompt_tokens = 0;
    uint64_t prefix_hash = 0;  // of its prompt's first tokens (route_choice.h's PrefixHash)
    uint32_t committed_tokens = 0;
  };
  void Add(Request request, std::weak_ptr<Progress> progress);
  void Remove(uint64_t id);
  std::vector<Request> List() const;
  // Those that have sent no token yet: on a preemption notice they go back to their entry
  // nodes at once, to be served elsewhere.
  std::vector<uint64_t> NotStarted() const;
  // Its end names `node` (a draining node handing it over); false for an id not served here.
  bool HandOff(uint64_t id, const std::string& node);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  struct Entry {
    Request request;
    std::weak_ptr<Progress> progress;
  };
  std::map<uint64_t, Entry> served_;  // GUARDED_BY(mu_)
};

struct ForwardRouteOptions {
  // This node's engine (never the routing one: a forwarded request is not forwarded again).
  std::function<Engine*()> engine;
  std::string token;  // the cluster token; empty refuses every call
  // Empty when this node may take routed work; else why not (no lease, draining).
  std::function<std::string()> refusal;
  OpenStreams* open_streams = nullptr;  // may be null
  ServedForwards* served = nullptr;     // may be null; must outlive the server's handlers
  // This node's average cost per generated token now (NodeCost::per_token); each end frame
  // says what the tokens it generated cost. May be empty (0).
  std::function<double()> dollars_per_token;
};

void RegisterForwardRoute(http::Router& router, ForwardRouteOptions options);

}  // namespace hearth::daemon
