// hearthd: owns the store, the worker and the two HTTP listeners.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "daemon/api/admin_routes.h"
#include "daemon/api/auth.h"
#include "daemon/ops/config.h"
#include "daemon/ops/config_reload.h"
#include "daemon/ops/cost.h"
#include "daemon/durability/durability.h"
#include "daemon/engine/engine.h"
#include "daemon/engine/engine_loop.h"
#include "daemon/api/event_stream.h"
#include "daemon/ops/health.h"
#include "daemon/engine/loop_worker.h"
#include "daemon/ops/metered_engine.h"
#include "daemon/models/model_registry.h"
#include "daemon/models/placing_engine.h"
#include "daemon/models/prewarmer.h"
#include "daemon/cluster/cluster_node.h"
#include "daemon/routing/forward_client.h"
#include "daemon/routing/forward_route.h"
#include "daemon/routing/routing_engine.h"
#include "daemon/ops/preemption.h"
#include "daemon/ops/queue_limits.h"
#include "daemon/requests/request_registry.h"
#include "daemon/ops/server_metrics.h"
#include "daemon/worker/worker_process.h"
#include "daemon/worker/worker_supervisor.h"
#include "store/database.h"

namespace hearth::http {
class HttpServer;
class Router;
}  // namespace hearth::http

namespace hearth::daemon {

class Daemon {
 public:
  explicit Daemon(Config config);
  ~Daemon();

  // Binds both ports (a port in use fails at once, before anything slow), opens the store,
  // starts the workers and the engine, then serves; returns once both listeners accept
  // connections.
  Status Start();
  // Stops the listeners and the worker. Safe to call twice.
  void Stop();

  // Generation for the API routes: every registered model, loaded on the worker
  // when a request needs it, behind the queue limits and the metrics. Null
  // before Start() succeeds.
  // How request ids are written for clients (RequestIdText): unique across a cluster.
  std::string IdScope() const { return config_.cluster_etcd.empty() ? "" : config_.cluster_node_name; }
  // The engine the API submits to: in a cluster the routing one, over this node's.
  Engine* engine() { return routing_ ? static_cast<Engine*>(routing_.get()) : metered_.get(); }

  // The status document served at GET /admin/v1/status.
  std::string StatusJson();
  // The model list served at GET /v1/models.
  std::string ModelsJson();

  // How Reload() reads the configuration again (main: the file, the environment, the flags).
  void SetConfigLoader(std::function<StatusOr<Config>()> loader);
  // Reads the configuration again and applies what can change while running (log level, API
  // keys, admin token, request retention, queue limits); reports what changed and what needs a
  // restart.
  // POST /admin/v1/reload and SIGHUP.
  StatusOr<ReloadReport> Reload();
  // While draining, generation answers 503 and running requests finish. A preemption notice
  // drains for good: SetDraining(false) does not undo it.
  void SetDraining(bool draining) { draining_ = draining; }
  bool draining() const { return draining_ || preempting_; }
  // A preemption notice's stop time came, or its work is done: main stops the daemon as on
  // SIGTERM and exits 0 (docs/durability.md, "Preemption notices").
  bool exit_requested() const { return exit_requested_; }
  std::vector<ModelStatus> ModelStatuses();
  // What /healthz reports (the systemd watchdog pings only while it is ok).
  HealthReport Liveness();
  // This node's cost so far: its price, hearthd's uptime, the tokens it generated.
  NodeCost CurrentCost();

 private:
  void RegisterApiRoutes();
  // With [cluster] etcd: joins (a lease, its record published), degraded while etcd is away.
  Status JoinCluster();
  void RegisterAdminRoutes();
  // Makes both listeners and binds their ports; they serve at the end of Start().
  Status BindListeners();
  // Starts the engine loop and the model registry, which loads the models (docs/models.md).
  Status StartEngine();

  // Constant after Start().
  const Config config_;
  const std::chrono::system_clock::time_point started_at_;
  std::unique_ptr<store::Database> db_;
  ServerMetrics metrics_;  // declared before engine_, whose requests' sinks record here
  QueueGate queue_gate_;   // likewise
  // One per worker: its process (restarted when it dies, docs/durability.md), its engine loop
  // (the process's one client) and the loop's calls for the registry.
  std::vector<std::unique_ptr<SupervisedWorker>> workers_;
  std::vector<std::unique_ptr<EngineLoop>> engines_;
  std::vector<std::unique_ptr<LoopWorker>> loop_workers_;
  // The model registry and placement (docs/models.md): set in StartEngine().
  std::unique_ptr<store::ModelStore> model_store_;
  std::unique_ptr<ModelRegistry> registry_;
  std::unique_ptr<store::LoadHistoryStore> load_store_;
  std::unique_ptr<LoadRecorder> load_;      // before placing_, which counts requests in it
  std::unique_ptr<PlacingEngine> placing_;  // under metered_
  std::unique_ptr<Prewarmer> prewarmer_;  // reads the registry, the load history and placing_
  std::unique_ptr<ClusterNode> cluster_;  // with [cluster] etcd: this node's membership
  std::unique_ptr<ForwardClient> forward_client_;  // with a cluster: the forwarded streams
  std::unique_ptr<RoutingEngine> routing_;         // with a cluster: over metered_
  ServedForwards served_forwards_;                 // what peers forwarded here, being served
  std::unique_ptr<http::HttpServer> api_;
  std::unique_ptr<http::HttpServer> admin_;

  // Metrics, health, readiness and queue limits. /healthz, /readyz and
  // /metrics on both listeners.
  void RegisterProbeRoutes(http::Router& router);
  std::string MetricsText();
  HealthReport Readiness();
  std::unique_ptr<MeteredEngine> metered_;  // set in StartEngine()
  std::unique_ptr<HealthMonitor> health_;   // set in Start()
  std::atomic<bool> stopping_{false};

  // Requests, auth, drain and reload.
  std::unique_ptr<RequestRegistry> requests_;  // set in Start()
  OpenStreams open_streams_;                   // the event streams the listeners still write
  // Durable requests (docs/durability.md): set in Start() with the store.
  std::unique_ptr<Durability> durability_;
  BearerAuth api_auth_;    // /v1/*
  BearerAuth admin_auth_;  // /admin/v1/*
  std::atomic<bool> draining_{false};
  std::function<StatusOr<Config>()> config_loader_;  // set before Start()
  std::mutex reload_mu_;
  Config applied_;  // GUARDED_BY(reload_mu_): config_ with the reloaded run-time options

  // Spot preemption notices (docs/durability.md).
  Status MakePreemptionWatcher();
  // In a cluster, at the preemption's stop time: hands every forwarded request still served
  // here to the node the migration plan chose for its model, with its KV blocks or to be
  // recomputed there ([cluster] kv_handoff; docs/cluster.md, "KV transfer"), before the deadline.
  void HandOffServedRequests();
  std::mutex handoff_mu_;
  std::map<std::string, std::string> handoff_targets_;  // GUARDED_BY(handoff_mu_): model -> node
  WallClock::time_point handoff_deadline_;              // GUARDED_BY(handoff_mu_): the notice's
  std::unique_ptr<PreemptionWatcher> preemption_;  // set in Start(), running once listeners open
  std::atomic<bool> preempting_{false};
  std::atomic<bool> exit_requested_{false};
};

// Path of hearth-worker beside the running hearthd executable.
std::string DefaultWorkerBinary();

}  // namespace hearth::daemon
