// Routes over the request registry: GET {prefix}/{id} (state, output so far, usage),
// GET {prefix}/{id}/events (the stream again, resumable with Last-Event-ID) and
// DELETE {prefix}/{id} (cancel). The API serves them under /v1/requests, the admin listener
// under /admin/v1/requests, beside its list.
#pragma once

#include <functional>
#include <string>

#include "daemon/requests/request_entry.h"

namespace hearth::http {
class Router;
}

namespace hearth::daemon {

class Engine;
class OpenStreams;
class RequestRegistry;

struct RequestRoutesOptions {
  RequestRegistry* registry = nullptr;  // must outlive the server's handlers
  std::function<Engine*()> engine;      // for cancelling; may answer null
  std::string prefix = "/v1/requests";
  OpenStreams* open_streams = nullptr;  // as ApiRoutesOptions::open_streams
  std::string id_scope{};                 // as ApiRoutesOptions::id_scope
  // This node's average cost per generated token now (NodeCost::per_token); empty: no cost
  // shown.
  std::function<double()> dollars_per_token{};
};

void RegisterRequestRoutes(http::Router& server, RequestRoutesOptions options);

// The request object: {"id","object":"hearth.request","model","endpoint","stream","state",
// "created","finished_at","prompt_tokens","text","tokens","finish_reason","usage","error",
// "events"}; summaries leave out text and tokens. With `dollars_per_token` >= 0 (this node's
// average cost per generated token), an ended request also has "cost_dollars": what its peers
// said their tokens cost, plus the tokens generated here at that average.
std::string RequestJson(const RequestInfo& info, bool with_output, std::string_view id_scope = {},
                        double dollars_per_token = -1);

}  // namespace hearth::daemon
