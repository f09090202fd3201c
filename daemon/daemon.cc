#include "daemon/daemon.h"

#include "daemon/routing/handoff_plan.h"
#include "daemon/routing/kv_handoff.h"
#include "daemon/routing/kv_route.h"

#include <httplib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>

#include "common/json_writer.h"
#include "common/log.h"
#include "daemon/api/admin_routes.h"
#include "daemon/api/api_routes.h"
#include "daemon/http/http_server.h"
#include "daemon/openai/openai_error.h"
#include "daemon/api/requests_routes.h"
#include "daemon/api/embeddings_routes.h"
#include "daemon/api/tokenize_routes.h"

namespace hearth::daemon {
namespace {

// How long Stop() lets the event streams write their last events once the engine has ended
// every request (a stream polls every 50 ms; a stalled client is what could take longer).
constexpr std::chrono::milliseconds kStreamsWriteOut{1000};

int64_t UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

RetentionPolicy RetentionOf(const Config& config) {
  return {std::chrono::seconds(config.request_retention_seconds),
          static_cast<size_t>(config.request_retention_count)};
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ",") + n;
  return out.empty() ? "none" : out;
}

// Every route goes through this: a handler never lets an exception escape
// into the HTTP library, and unknown failures are a 500 in the OpenAI format.
void InstallErrorHandlers(http::Router& server) {
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    LogError("handler threw").Kv("what", what);
    SetError(res, {500, "internal error", "server_error", "", ""});
  });
  // Every response gets its X-Request-Id from the router (http::kRequestIdHeader).
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler already wrote an error body
    if (res.status == 404) {
      SetError(res, {404, "no route for " + req.method + " " + req.path, "invalid_request_error", "", "not_found"});
    } else if (res.status == 413) {
      SetError(res, {413, "request body too large", "invalid_request_error", "", "payload_too_large"});
    } else if (res.status == 405) {
      SetError(res, {405, "method not allowed", "invalid_request_error", "", ""});
    } else if (res.status >= 400 && res.status < 500) {
      SetError(res, {res.status, "bad request", "invalid_request_error", "", ""});
    }
  });
  server.set_payload_max_length(8u << 20);
}

}  // namespace

std::string DefaultWorkerBinary() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "hearth-worker";
  return (self.parent_path() / "hearth-worker").string();
}

Daemon::Daemon(Config config)
    : config_(std::move(config)),
      started_at_(std::chrono::system_clock::now()),
      queue_gate_({config_.max_queued_requests, config_.max_queued_tokens}) {
  metrics_.SetBuildInfo(HEARTH_VERSION);
}

Daemon::~Daemon() { Stop(); }

Status Daemon::Start() {
  // The ports first: a port in use fails here, before the store, the workers or a model load.
  HEARTH_RETURN_IF_ERROR(BindListeners());
  std::error_code ec;
  std::filesystem::create_directories(config_.data_dir, ec);
  if (ec) return Status::IOError("cannot create data dir " + config_.data_dir + ": " + ec.message());
  store::DatabaseOptions db_options;
  HEARTH_ASSIGN_OR_RETURN(db_options.sync, ParseSyncMode(config_.store_synchronous));
  HEARTH_ASSIGN_OR_RETURN(db_options.on_damage, store::ParseOnDamage(config_.store_on_damage));
  HEARTH_ASSIGN_OR_RETURN(db_, store::Database::Open(config_.data_dir + "/hearth.db", db_options));
  LogInfo("store opened")
      .Kv("path", db_->path())
      .Kv("schema", db_->schema_version())
      .Kv("synchronous", config_.store_synchronous);
  StoreCommitterOptions committer;
  committer.on_commit = [this](double seconds) { metrics_.StoreCommitted(seconds); };
  committer.on_commit_error = [this](const Status&) { metrics_.StoreCommitFailed(); };
  // The crash test hook (docs/durability.md): read once, here.
  HEARTH_ASSIGN_OR_RETURN(committer.crash_point, ParseCommitCrashPoint(std::getenv(kCrashAtCommitEnv)));
  if (committer.crash_point) LogWarn("crash test hook armed").Kv(kCrashAtCommitEnv, std::getenv(kCrashAtCommitEnv));
  HEARTH_ASSIGN_OR_RETURN(durability_, Durability::Open(db_.get(), std::move(committer)));
  HEARTH_RETURN_IF_ERROR(MakePreemptionWatcher());

  for (const auto& [name, path] : config_.models) {
    if (!std::filesystem::is_regular_file(path, ec)) {
      return Status::NotFound("model '" + name + "': no file at " + path);
    }
  }

  std::string worker_binary = config_.worker_binary.empty() ? DefaultWorkerBinary() : config_.worker_binary;
  std::vector<std::string> worker_args;
  // On CPU the cores split between the workers (one worker alone takes them all).
  int threads = config_.worker_threads;
  if (threads == 0 && config_.worker_count > 1) {
    threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / config_.worker_count);
  }
  if (threads > 0) worker_args = {"--threads", std::to_string(threads)};
  if (config_.memory_budget_bytes > 0) {
    // The worker's page pool is the budget (docs/models.md); at least one page.
    worker_args.push_back("--pool-mb");
    worker_args.push_back(std::to_string(std::max<uint64_t>(config_.memory_budget_bytes >> 20, 2)));
  }
  for (int i = 0; i < config_.worker_count; ++i) {
    HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<SupervisedWorker> worker,
                            SupervisedWorker::Start(worker_binary, worker_args, SupervisorOptions{},
                                                    [this] { metrics_.WorkerRestarted(); }));
    workers_.push_back(std::move(worker));
  }
  HEARTH_RETURN_IF_ERROR(StartEngine());
  // Pending work as the engine last published it, or as the queue gate counts it: a step that
  // never returns (a hung worker) leaves the engine's stats from before its requests arrived.
  health_ = std::make_unique<HealthMonitor>(config_.health_stall_seconds, [this] {
    const EngineStats s = placing_->Stats();
    return HealthSample{s.num_waiting + s.num_running + queue_gate_.load().requests > 0, s.tokens_generated};
  });
  health_->Start();

  // Both through the placing engine: a stored request's model may be on any worker, or on none
  // yet (its resumed request then waits for its load like any other).
  requests_ = durability_->MakeRegistry(RetentionOf(config_), placing_.get());
  // Before the listeners open: a client reconnecting by id finds its request.
  HEARTH_ASSIGN_OR_RETURN(RecoveryReport recovered, durability_->Recover(placing_.get(), requests_.get()));
  LogInfo("recovery done")
      .Kv("resumed", recovered.resumed)
      .Kv("failed", recovered.failed)
      .Kv("replayed_tokens", recovered.replayed_tokens);
  metrics_.Recovered(recovered.resumed, recovered.prompt_tokens + recovered.replayed_tokens);
  api_auth_.SetTokens(config_.api_keys);
  admin_auth_.SetTokens({config_.admin_token});
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    applied_ = config_;
  }
  RegisterApiRoutes();
  RegisterAdminRoutes();
  // Set before the listeners serve, so that no handler sees it change.
  if (!config_.cluster_etcd.empty()) HEARTH_RETURN_IF_ERROR(JoinCluster());
  HEARTH_RETURN_IF_ERROR(api_->Serve());
  HEARTH_RETURN_IF_ERROR(admin_->Serve());
  LogInfo("hearthd ready").Kv("listen", config_.listen.ToString()).Kv("admin", config_.admin_listen.ToString());
  preemption_->Start();
  return Status::Ok();
}

Status Daemon::MakePreemptionWatcher() {
  PreemptionWatcherOptions options;
  options.grace_seconds = config_.preemption_grace_seconds;
  if (!config_.preemption_notice_file.empty()) {
    options.sources.push_back(MakeFileNoticeSource(config_.preemption_notice_file, options.grace_seconds));
  }
  if (!config_.preemption_poll_url.empty()) {
    HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<NoticeSource> url,
                            MakeUrlNoticeSource(config_.preemption_poll_url,
                                                std::chrono::milliseconds(config_.preemption_poll_interval_ms),
                                                options.grace_seconds));
    options.sources.push_back(std::move(url));
  }
  options.on_notice = [this](const PreemptionNotice& notice, WallClock::time_point stop_at) {
    preempting_ = true;  // new requests get 503 with Retry-After, /readyz fails
    const auto now = WallClock::now();
    LogWarn("preemption notice: admitting no new requests, finishing what fits")
        .Kv("source", notice.source)
        .Kv("seconds_to_deadline", std::chrono::duration<double>(notice.deadline - now).count())
        .Kv("seconds_to_stop", std::chrono::duration<double>(stop_at - now).count());
    // In a cluster, what another node forwarded here and has no token yet goes back at once:
    // its entry node sends it elsewhere (this node is draining). The rest keeps decoding until
    // the stop, when its end ("server shutting down") makes its entry node resubmit it with
    // its committed tokens.
    if (cluster_) {
      // Where each served model goes: those nodes load it during the grace period.
      std::vector<cluster::NodeRecord> members;
      for (cluster::Peer& p : cluster_->view().nodes) members.push_back(std::move(p.record));
      std::map<std::string, uint64_t> bytes;
      for (const ModelStatus& m : registry_->List()) bytes[m.name] = m.bytes;
      const scheduler::MigrationPlan plan =
          scheduler::PlanMigration(MigrationInputOf(config_.cluster_node_name, members, served_forwards_.List(), bytes));
      for (const scheduler::MigrationMove& m : plan.moves) {
        LogInfo("preemption: migration plan").Kv("model", m.model).Kv("to", m.node).Kv("requests", m.requests.size());
      }
      for (const scheduler::UnplacedModel& m : plan.unplaced) {
        LogWarn("preemption: no survivor has room for a model").Kv("model", m.model).Kv("requests", m.requests.size());
      }
      cluster_->SetHandoff(HandoffsOf(plan));
      {
        std::lock_guard<std::mutex> lock(handoff_mu_);
        handoff_deadline_ = notice.deadline;
        handoff_targets_.clear();
        for (const scheduler::MigrationMove& m : plan.moves) handoff_targets_[m.model] = m.node;
      }
      const std::vector<uint64_t> waiting = served_forwards_.NotStarted();
      LogInfo("preemption: handing back forwarded requests without a token")
          .Kv("requests", waiting.size())
          .Kv("serving", served_forwards_.size());
      for (uint64_t id : waiting) metered_->Cancel(id);
    }
  };
  options.has_work = [this] {
    if (!placing_) return false;
    const EngineStats s = placing_->Stats();
    return s.num_waiting + s.num_running + queue_gate_.load().requests > 0;
  };
  options.on_stop = [this](const std::string& why) {
    LogWarn("preemption: stopping before the deadline").Kv("why", why);
    if (cluster_) HandOffServedRequests();
    exit_requested_ = true;
  };
  preemption_ = std::make_unique<PreemptionWatcher>(std::move(options));
  return Status::Ok();
}

void Daemon::HandOffServedRequests() {
  std::map<std::string, std::string> targets;
  WallClock::time_point deadline;
  {
    std::lock_guard<std::mutex> lock(handoff_mu_);
    targets = handoff_targets_;
    deadline = handoff_deadline_;
  }
  std::map<std::string, std::string> advertised;
  for (const cluster::Peer& p : cluster_->view().nodes) advertised[p.record.name] = p.record.advertise;
  std::vector<KvHandoffRequest> requests;
  for (const ServedForwards::Request& r : served_forwards_.List()) {
    KvHandoffRequest q;
    q.id = r.id;
    if (auto t = targets.find(r.model); t != targets.end()) {
      q.node = t->second;
      if (auto a = advertised.find(q.node); a != advertised.end()) {
        if (StatusOr<PeerAddress> peer = ParsePeerUrl(a->second); peer.ok()) q.peer = *peer;
      }
    }
    requests.push_back(std::move(q));
  }
  if (requests.empty()) return;
  KvHandoffOptions options;
  (void)scheduler::ParseKvMovePolicy(config_.cluster_kv_handoff, &options.policy);  // checked at load
  options.token = config_.cluster_token;
  options.client = forward_client_.get();
  options.export_kv = [this](const std::vector<uint64_t>& ids, double* prefill) {
    return placing_->ExportKv(ids, std::numeric_limits<int32_t>::max(), prefill);
  };
  // Leave a second of the grace for the exit itself.
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(deadline - WallClock::now()) -
                     std::chrono::seconds(1);
  const KvHandoffSummary summary = RunKvHandoff(options, requests, until, [this](const KvHandoffResult& r) {
    // Its end names the node, and its entry node resubmits it there at once.
    if (!r.node.empty()) served_forwards_.HandOff(r.id, r.node);
    metered_->Cancel(r.id);
    metrics_.KvHandedOver(r.move == scheduler::KvMove::kTransfer && r.status.ok(), r.bytes);
    if (!r.status.ok()) LogWarn("KV transfer failed; recomputed").Kv("request", r.id).Kv("error", r.status.ToString());
  });
  int transferred = 0, recomputed = 0;
  uint64_t bytes = 0;
  int64_t tokens = 0;
  for (const KvHandoffResult& r : summary.results) {
    const bool moved = r.move == scheduler::KvMove::kTransfer && r.status.ok();
    (moved ? transferred : recomputed) += 1;
    bytes += r.bytes;
    tokens += r.tokens;
  }
  LogInfo("preemption: requests handed over")
      .Kv("transferred", transferred)
      .Kv("recomputed", recomputed)
      .Kv("kv_bytes", bytes)
      .Kv("kv_tokens", tokens)
      .Kv("link_mb_per_s", summary.link_bytes_per_second / 1e6)
      .Kv("prefill_tokens_per_s", summary.prefill_tokens_per_second)
      .Kv("seconds", summary.seconds);
}

Status Daemon::StartEngine() {
  EngineLoopOptions engine_options;
  engine_options.max_num_seqs = config_.max_num_seqs;
  engine_options.chunked_prefill = config_.chunked_prefill;
  if (config_.token_budget > 0) engine_options.token_budget = config_.token_budget;
  engine_options.committer = durability_->committer();
  engine_options.ids = durability_->ids();  // one allocator over every loop
  std::vector<RegistryWorker> registry_workers;
  for (const auto& worker : workers_) {
    engines_.push_back(std::make_unique<EngineLoop>(worker.get(), engine_options));
    engines_.back()->Start();
    // The registry reaches each worker only through its engine loop: one client per worker.
    loop_workers_.push_back(std::make_unique<LoopWorker>(engines_.back().get(), worker.get()));
    registry_workers.push_back({loop_workers_.back().get(), engines_.back().get()});
  }
  // Models are added to the running engine, as they are later at run time.
  ModelRegistryOptions models;
  models.memory_budget_bytes = config_.memory_budget_bytes;
  models.staged_budget_bytes = config_.staged_budget_bytes;
  models.wait_for_room = std::chrono::milliseconds(static_cast<int64_t>(config_.model_wait_seconds * 1000));
  models.token_budget = config_.token_budget;  // 0: measure it at each model's first load (docs/engine.md)
  models.target_step_ms = config_.target_step_ms;
  models.forecast_placement = config_.placement_policy == "forecast";
  models.prewarm_keeps_recent = std::chrono::seconds(config_.load_window_seconds);
  model_store_ = std::make_unique<store::ModelStore>(db_.get());
  registry_ = std::make_unique<ModelRegistry>(std::move(registry_workers), model_store_.get(), &metrics_, models);
  HEARTH_RETURN_IF_ERROR(registry_->Start(config_.models));
  // Each model's load, per window, for the forecaster; kept in the store across restarts.
  load_store_ = std::make_unique<store::LoadHistoryStore>(db_.get());
  scheduler::ForecastOptions forecast;
  forecast.window_seconds = config_.load_window_seconds;
  forecast.period_seconds = config_.load_period_seconds;
  load_ = std::make_unique<LoadRecorder>(load_store_.get(), forecast);
  load_->Start();
  placing_ = std::make_unique<PlacingEngine>(
      registry_.get(), [this](uint64_t id) { durability_->journal()->Forget(id); }, load_.get());
  metered_ = std::make_unique<MeteredEngine>(placing_.get(), &queue_gate_, &metrics_);
  // The forecast of each model's load, its score, and (policy forecast) the prewarm plan.
  PrewarmerOptions prewarm;
  prewarm.run_plans = config_.placement_policy == "forecast";
  prewarm.interval = std::chrono::milliseconds(config_.prewarm_interval_ms);
  prewarm.batch_size = static_cast<int32_t>(config_.placement_batch_size);
  prewarmer_ = std::make_unique<Prewarmer>(registry_.get(), load_.get(), [this] { return placing_->Stats(); }, prewarm);
  prewarmer_->Start();
  return Status::Ok();
}

Status Daemon::BindListeners() {
  // Sockets, timers and the probes run on a few I/O threads; http_threads run handlers (a
  // non-streamed completion holds one until it ends; a stream holds none between its events).
  auto ms = [](double seconds) { return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)); };
  http::HttpServerOptions http_options;
  http_options.handler_threads = config_.http_threads;
  http_options.max_connections = static_cast<size_t>(config_.http_max_connections);
  http_options.max_connections_per_ip = static_cast<size_t>(config_.http_max_connections_per_client);
  http_options.header_deadline = ms(config_.http_header_timeout_seconds);
  http_options.body_deadline = ms(config_.http_body_timeout_seconds);
  http_options.keep_alive_idle = ms(config_.http_keep_alive_seconds);
  api_ = std::make_unique<http::HttpServer>(http_options);
  http_options.handler_threads = 16;  // the admin API: a few operators
  admin_ = std::make_unique<http::HttpServer>(http_options);
  InstallErrorHandlers(api_->router());
  InstallErrorHandlers(admin_->router());
  for (auto [server, where] :
       {std::pair{api_.get(), &config_.listen}, std::pair{admin_.get(), &config_.admin_listen}}) {
    StatusOr<int> port = server->Bind(where->host, where->port);
    if (!port.ok()) return Status::Unavailable(port.status().message() + " (in use, or not a local address?)");
  }
  return Status::Ok();
}

void Daemon::Stop() {
  stopping_ = true;  // /readyz fails from here on
  if (cluster_) cluster_->Stop();  // leave the cluster first: no more routed work
  // Forwarded requests end unrecorded (a restart resumes them), then their streams close.
  if (routing_) routing_->Stop();
  if (forward_client_) forward_client_->Stop();
  if (preemption_) preemption_->Stop();
  if (health_) health_->Stop();
  if (prewarmer_) prewarmer_->Stop();  // no prewarm starts from here on
  if (registry_) registry_->Stop();  // requests waiting for a model give up
  // The engine first: it finishes every open request, so streaming handlers
  // return before the listeners wait for them.
  for (auto& engine : engines_) engine->Stop();
  if (placing_) placing_->Stop();  // requests waiting for their model end (and stay stored)
  if (load_) load_->Stop();        // the windows closed so far are written
  if (!open_streams_.WaitUntilNone(kStreamsWriteOut)) LogWarn("stopping with event streams still open");
  for (auto* server : {api_.get(), admin_.get()}) {
    if (server) server->Stop();
  }
  for (auto& worker : workers_) worker->Stop();
}

void Daemon::RegisterApiRoutes() {
  http::Router& api = api_->router();
  RegisterProbeRoutes(api);
  api.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(ModelsJson(), "application/json");
  });
  RequireBearerToken(api, &api_auth_, std::vector<std::string>{"/v1/", "/tokenize", "/detokenize"});
  RegisterTokenizeRoutes(api, [this] { return engine(); });
  RegisterEmbeddingsRoutes(api, [this] { return engine(); });
  ApiRoutesOptions api_options;
  api_options.engine = [this] { return engine(); };
  api_options.created_unix = UnixSeconds(started_at_);
  api_options.registry = requests_.get();
  api_options.draining = [this] { return draining(); };
  api_options.journal = durability_->journal();
  api_options.open_streams = &open_streams_;
  api_options.id_scope = IdScope();
  RegisterOpenAiRoutes(api, std::move(api_options));
  RegisterRequestRoutes(api, {requests_.get(), [this] { return engine(); }, "/v1/requests", &open_streams_, IdScope(),
                              [this] { return CurrentCost().per_token(); }});
  if (!config_.cluster_etcd.empty()) {
    ForwardRouteOptions forward;
    forward.engine = [this]() -> Engine* { return metered_.get(); };  // never forwarded again
    forward.token = config_.cluster_token;
    forward.refusal = [this]() -> std::string {
      if (stopping_ || draining()) return "it is draining";
      if (!cluster_ || !cluster_->view().has_lease) return "it holds no cluster lease";
      return "";
    };
    forward.open_streams = &open_streams_;
    forward.dollars_per_token = [this] { return CurrentCost().per_token(); };
    forward.served = &served_forwards_;
    RegisterForwardRoute(api, std::move(forward));
    KvRouteOptions kv;
    kv.token = config_.cluster_token;
    kv.refusal = [this]() -> std::string {
      if (stopping_ || draining()) return "it is draining";
      return "";
    };
    kv.vocab_size = [this](const std::string& model) {
      const model::Tokenizer* t = placing_->tokenizer(model);
      return t ? t->vocab_size() : 0;
    };
    kv.import = [this](const KvPrefix& prefix) { return placing_->ImportKv(prefix); };
    kv.on_import = [this](int32_t blocks, uint64_t bytes) { metrics_.KvImported(blocks, bytes); };
    RegisterKvRoute(api, std::move(kv));
  }
}

void Daemon::RegisterAdminRoutes() {
  http::Router& admin = admin_->router();
  RegisterProbeRoutes(admin);
  admin.Get("/admin/v1/status", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(StatusJson(), "application/json");
  });
  admin.Get("/admin/v1/cluster", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(cluster_ ? cluster_->Json() : NoClusterJson(), "application/json");
  });
  RequireBearerToken(admin, &admin_auth_, "/admin/v1/");
  AdminRoutesOptions options;
  options.id_scope = IdScope();
  options.registry = requests_.get();
  options.open_streams = &open_streams_;
  options.engine = [this] { return engine(); };
  options.models = registry_.get();
  options.forecast_options = load_->options();
  options.draining = [this] { return draining(); };
  options.set_draining = [this](bool on) { SetDraining(on); };
  options.reload = [this] { return Reload(); };
  options.history = [this](const std::string& model, int64_t limit) { return load_->HistoryOf(model, limit); };
  options.preempt = [this](std::optional<double> grace_seconds) {
    preemption_->Notify(grace_seconds);
    return preemption_->StatusJson();
  };
  RegisterAdminApi(admin, std::move(options));
}

Status Daemon::JoinCluster() {
  ClusterNodeOptions o;
  o.etcd = config_.cluster_etcd;
  o.name = config_.cluster_node_name;
  o.advertise = config_.cluster_advertise;
  o.admin = "http://" + config_.admin_listen.ToString();
  o.instance = config_.cluster_instance;
  o.price_per_hour = config_.cluster_price_per_hour;
  o.prefix = config_.cluster_prefix;
  o.memory_budget_bytes = config_.memory_budget_bytes;
  o.staged_budget_bytes = config_.staged_budget_bytes;
  o.workers = config_.worker_count;
  o.version = HEARTH_VERSION;
  o.draining = [this] { return draining() || stopping_; };
  o.cost = [this] { return CurrentCost(); };
  HEARTH_ASSIGN_OR_RETURN(cluster_, ClusterNode::Create(std::move(o), registry_.get()));
  forward_client_ = std::make_unique<ForwardClient>();
  RoutingOptions routing;
  routing.self = config_.cluster_node_name;
  routing.token = config_.cluster_token;
  routing.members = [this] {
    std::vector<cluster::NodeRecord> members;
    for (cluster::Peer& p : cluster_->view().nodes) members.push_back(std::move(p.record));
    return members;
  };
  routing.committer = durability_->committer();
  routing.on_handoff = [this](double seconds) { metrics_.Handoff(seconds); };
  routing.restart_on_loss = config_.cluster_resubmit == "restart";
  routing_ = std::make_unique<RoutingEngine>(metered_.get(), forward_client_.get(), std::move(routing));
  cluster_->Start();
  LogInfo("joining the cluster").Kv("node", config_.cluster_node_name).Kv("advertise", config_.cluster_advertise);
  return Status::Ok();
}

void Daemon::SetConfigLoader(std::function<StatusOr<Config>()> loader) { config_loader_ = std::move(loader); }

StatusOr<ReloadReport> Daemon::Reload() {
  if (!config_loader_) return Status::FailedPrecondition("this hearthd has no configuration to read again");
  HEARTH_ASSIGN_OR_RETURN(Config fresh, config_loader_());
  LogLevel level;
  if (!ParseLogLevel(fresh.log_level, &level)) {
    return Status::InvalidArgument("unknown log level '" + fresh.log_level + "'");
  }
  std::lock_guard<std::mutex> lock(reload_mu_);
  ReloadReport report = DiffConfig(applied_, fresh);
  SetLogLevel(level);
  api_auth_.SetTokens(fresh.api_keys);
  admin_auth_.SetTokens({fresh.admin_token});
  if (requests_) requests_->SetRetention(RetentionOf(fresh));
  queue_gate_.SetLimits({fresh.max_queued_requests, fresh.max_queued_tokens});
  applied_ = MergeReloadable(applied_, fresh);
  LogInfo("configuration reloaded")
      .Kv("applied", JoinNames(report.applied))
      .Kv("restart_required", JoinNames(report.restart_required));
  return report;
}

std::vector<ModelStatus> Daemon::ModelStatuses() {
  return registry_ ? registry_->List() : std::vector<ModelStatus>();
}

void Daemon::RegisterProbeRoutes(http::Router& router) {
  // The probes run on the listener's I/O threads: they answer while every handler is busy.
  const http::RouteOptions probe{.run_inline = true};
  for (const char* path : {"/healthz", "/health"}) {  // /health: what vLLM and llama-server answer
    router.Get(
        path,
        [this](const httplib::Request&, httplib::Response& res) {
          HealthReport report = health_ ? health_->Liveness() : HealthReport{};
          res.status = report.ok ? 200 : 503;
          res.set_content(HealthJson(report, "unhealthy"), "application/json");
        },
        probe);
  }
  router.Get(
      "/readyz",
      [this](const httplib::Request&, httplib::Response& res) {
        HealthReport report = Readiness();
        res.status = report.ok ? 200 : 503;
        ClusterHealth cluster;
        if (cluster_) {
          cluster.reason = cluster_->Degraded();
          cluster.state = cluster.reason.empty() ? "member" : "degraded";
        }
        res.set_content(HealthJson(report, "not_ready", cluster_ ? &cluster : nullptr), "application/json");
      },
      probe);
  router.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(MetricsText(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

HealthReport Daemon::Liveness() { return health_ ? health_->Liveness() : HealthReport{}; }

HealthReport Daemon::Readiness() {
  ReadinessInput in;
  in.stopping = stopping_;
  in.draining = draining();
  in.worker_running = !workers_.empty();
  for (const auto& worker : workers_) in.worker_running = in.worker_running && ProcessRunning(worker->pid());
  in.models_loaded = registry_ ? registry_->num_warm() : 0;
  return CheckReadiness(in);
}

std::string Daemon::MetricsText() {
  LiveState live;
  if (placing_) live.engine = placing_->Stats();
  live.queue = queue_gate_.load();
  for (const auto& worker : workers_) live.workers_up += ProcessRunning(worker->pid()) ? 1 : 0;
  live.models_loaded = registry_ ? registry_->num_warm() : 0;
  live.tokens_per_second = health_ ? health_->TokensPerSecond() : 0;
  for (const ModelStatus& m : ModelStatuses()) live.models.push_back(m.name);
  StatusOr<ProcessSample> process = ReadProcessSample();
  if (process.ok()) live.process = *process;
  live.price_per_hour = config_.cluster_price_per_hour;  // a [cluster] key: 0 where none is set
  live.uptime_seconds = std::chrono::duration<double>(std::chrono::system_clock::now() - started_at_).count();
  if (cluster_) {
    const cluster::MembershipView v = cluster_->view();
    LiveState::Cluster c;
    c.nodes = static_cast<int64_t>(v.nodes.size());
    c.lease_held = v.has_lease;
    c.etcd_reachable = v.etcd_reachable;
    c.etcd_errors = cluster_->etcd_errors();
    if (routing_) {
      const RoutingCounters r = routing_->counters();
      c.routed_local = r.routed_local;
      c.forwarded = r.forwarded;
      c.resubmitted = r.resubmitted;
      c.forward_failed = r.failed;
      c.open_forwarded = r.open_forwarded;
    }
    live.cluster = c;
  }
  return metrics_.Render(live);
}

std::string Daemon::ModelsJson() {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("object");
  w.String("list");
  w.Key("data");
  w.StartArray();
  for (const ModelStatus& m : ModelStatuses()) {  // warm or not: a request loads a cold one
    w.StartObject();
    w.Key("id");
    WriteString(w, m.name);
    w.Key("object");
    w.String("model");
    w.Key("created");
    w.Int64(UnixSeconds(started_at_));
    w.Key("owned_by");
    w.String("hearth");
    if (m.context_length > 0) {  // vLLM's name for the context length; unknown until first loaded
      w.Key("max_model_len");
      w.Int(m.context_length);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
}

NodeCost Daemon::CurrentCost() {
  return NodeCost{config_.cluster_price_per_hour,
                  std::chrono::duration<double>(std::chrono::system_clock::now() - started_at_).count(),
                  placing_ ? static_cast<double>(placing_->Stats().tokens_generated) : 0.0};
}

std::string Daemon::StatusJson() {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("version");
  w.String(HEARTH_VERSION);
  w.Key("pid");
  w.Int(::getpid());
  w.Key("uptime_s");
  w.Int64(UnixSeconds(std::chrono::system_clock::now()) - UnixSeconds(started_at_));
  w.Key("draining");
  w.Bool(draining());
  w.Key("listen");
  WriteString(w, config_.listen.ToString());
  w.Key("data_dir");
  WriteString(w, config_.data_dir);
  w.Key("workers");
  w.StartArray();
  for (size_t i = 0; i < workers_.size(); ++i) {
    const SupervisedWorker& worker = *workers_[i];
    w.StartObject();
    w.Key("id");
    w.Int(static_cast<int>(i));
    w.Key("pid");
    w.Int(worker.pid());
    w.Key("backend");
    WriteString(w, worker.hello().backend);
    w.Key("device");
    WriteString(w, worker.hello().device);
    w.Key("alive");
    // From /proc, not the socket: the engine loop is the worker's one client, and a status
    // must answer while the worker is busy with a long load.
    w.Bool(ProcessRunning(worker.pid()));
    w.Key("restarts");
    w.Int64(worker.restarts());
    w.EndObject();
  }
  w.EndArray();
  const std::map<std::string, ModelEngineStats> per_model =
      placing_ ? placing_->Stats().models : std::map<std::string, ModelEngineStats>();
  w.Key("models");
  w.StartArray();
  for (const ModelStatus& m : ModelStatuses()) {
    w.StartObject();
    w.Key("name");
    WriteString(w, m.name);
    w.Key("path");
    WriteString(w, m.path);
    w.Key("state");
    WriteString(w, m.state);
    w.Key("worker");
    if (m.worker >= 0) {
      w.Int(m.worker);
    } else {
      w.Null();
    }
    w.Key("context_length");
    w.Int(m.context_length);
    // Its queues and KV use, summed over the workers that hold it.
    const auto it = per_model.find(m.name);
    const ModelEngineStats s = it == per_model.end() ? ModelEngineStats{} : it->second;
    w.Key("queued");
    w.Int64(s.num_waiting + s.num_waiting_for_model);
    w.Key("running");
    w.Int64(s.num_running);
    w.Key("kv_blocks_used");
    w.Int64(s.kv_blocks_total - s.kv_blocks_free);
    w.Key("kv_blocks_total");
    w.Int64(s.kv_blocks_total);
    w.EndObject();
  }
  w.EndArray();
  if (placing_) {
    EngineStats stats = placing_->Stats();
    w.Key("engine");
    w.StartObject();
    w.Key("waiting");
    w.Int64(stats.num_waiting);
    w.Key("running");
    w.Int64(stats.num_running);
    w.Key("kv_blocks_total");
    w.Int64(stats.kv_blocks_total);
    w.Key("kv_blocks_free");
    w.Int64(stats.kv_blocks_free);
    w.Key("tokens_generated");
    w.Int64(stats.tokens_generated);
    w.EndObject();
  }
  w.EndObject();
  return buf.GetString();
}

}  // namespace hearth::daemon
