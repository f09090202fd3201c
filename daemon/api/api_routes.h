// The OpenAI-compatible generation routes: POST /v1/chat/completions, POST /v1/completions and
// GET /v1/models/{id}, served from an Engine. Validation errors are OpenAI error bodies; every
// response carries X-Request-Id.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace hearth::http {
class Router;
}

namespace hearth::daemon {

class Engine;
class OpenStreams;
class RequestJournal;
class RequestRegistry;

struct ApiRoutesOptions {
  // The engine to serve from, asked on every request (it may start after the routes are
  // registered). Null, or a null result: generation answers 503.
  std::function<Engine*()> engine;
  int64_t created_unix = 0;  // "created" of the model objects
  // Where every generation request is recorded (GET /v1/requests/{id}); null: the routes keep
  // a registry of their own. Must outlive the server's handlers.
  RequestRegistry* registry = nullptr;
  // True while the daemon is draining: generation answers 503 with Retry-After.
  std::function<bool()> draining = nullptr;
  // Stores every request before it is submitted (docs/durability.md) and serves the
  // Idempotency-Key header; null: nothing is stored and the header is ignored.
  RequestJournal* journal = nullptr;
  // Where the event streams count while they are written (may be null); must outlive them.
  OpenStreams* open_streams = nullptr;
  // How ids are written (RequestIdText): empty on a single node, the node's name in a cluster.
  std::string id_scope{};
};

// Registers the routes on `server`. The engine must outlive the server's handlers.
void RegisterOpenAiRoutes(http::Router& server, ApiRoutesOptions options);

}  // namespace hearth::daemon
