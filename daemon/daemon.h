// hearthd: owns the store, the worker and the two HTTP listeners.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"
#include "daemon/config.h"
#include "daemon/engine.h"
#include "daemon/engine_loop.h"
#include "daemon/worker_process.h"
#include "store/database.h"

namespace httplib {
class Server;
}

namespace hearth::daemon {

class Daemon {
 public:
  explicit Daemon(Config config);
  ~Daemon();

  // Opens the store, starts the worker and the listeners; returns once both
  // listeners accept connections.
  Status Start();
  // Stops the listeners and the worker. Safe to call twice.
  void Stop();

  // Generation for the API routes: every configured model, loaded on the
  // worker. Null before Start() succeeds.
  Engine* engine() { return engine_.get(); }

  // The status document served at GET /admin/v1/status.
  std::string StatusJson();
  // The model list served at GET /v1/models.
  std::string ModelsJson();

 private:
  void RegisterApiRoutes();
  void RegisterAdminRoutes();
  Status Listen(httplib::Server& server, const HostPort& where, std::thread* thread);
  // Loads every configured model on the worker and starts the engine loop.
  Status StartEngine();

  // Constant after Start().
  const Config config_;
  const std::chrono::system_clock::time_point started_at_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<WorkerProcess> worker_;
  std::unique_ptr<EngineLoop> engine_;
  std::unique_ptr<httplib::Server> api_;
  std::unique_ptr<httplib::Server> admin_;
  std::thread api_thread_;
  std::thread admin_thread_;
};

// Path of hearth-worker beside the running hearthd executable.
std::string DefaultWorkerBinary();

}  // namespace hearth::daemon
