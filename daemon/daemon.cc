#include "daemon/daemon.h"

#include <httplib.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <filesystem>

#include "common/log.h"
#include "daemon/api_routes.h"
#include "daemon/openai_error.h"
#include "model/tokenizer_gguf.h"

namespace hearth::daemon {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteString(JsonWriter& w, const std::string& s) {
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
}

int64_t UnixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Every route goes through this: a handler never lets an exception escape
// into the HTTP library, and unknown failures are a 500 in the OpenAI format.
void InstallErrorHandlers(httplib::Server& server) {
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
    : config_(std::move(config)), started_at_(std::chrono::system_clock::now()) {}

Daemon::~Daemon() { Stop(); }

Status Daemon::Start() {
  std::error_code ec;
  std::filesystem::create_directories(config_.data_dir, ec);
  if (ec) return Status::IOError("cannot create data dir " + config_.data_dir + ": " + ec.message());
  HEARTH_ASSIGN_OR_RETURN(db_, store::Database::Open(config_.data_dir + "/hearth.db"));
  LogInfo("store opened").Kv("path", db_->path()).Kv("schema", db_->schema_version());

  for (const auto& [name, path] : config_.models) {
    if (!std::filesystem::is_regular_file(path, ec)) {
      return Status::NotFound("model '" + name + "': no file at " + path);
    }
  }

  std::string worker_binary = config_.worker_binary.empty() ? DefaultWorkerBinary() : config_.worker_binary;
  std::vector<std::string> worker_args;
  if (config_.worker_threads > 0) {
    worker_args = {"--threads", std::to_string(config_.worker_threads)};
  }
  HEARTH_ASSIGN_OR_RETURN(worker_, WorkerProcess::Spawn(worker_binary, worker_args));
  HEARTH_RETURN_IF_ERROR(StartEngine());

  api_ = std::make_unique<httplib::Server>();
  admin_ = std::make_unique<httplib::Server>();
  // Each open stream holds one of the HTTP library's threads for its whole
  // life, so the default pool (one per core) would let a few slow clients
  // starve /healthz. A larger pool; issue 5 measures how far it goes.
  api_->new_task_queue = [] { return new httplib::ThreadPool(256); };
  InstallErrorHandlers(*api_);
  InstallErrorHandlers(*admin_);
  RegisterApiRoutes();
  RegisterAdminRoutes();
  HEARTH_RETURN_IF_ERROR(Listen(*api_, config_.listen, &api_thread_));
  HEARTH_RETURN_IF_ERROR(Listen(*admin_, config_.admin_listen, &admin_thread_));
  LogInfo("hearthd ready").Kv("listen", config_.listen.ToString()).Kv("admin", config_.admin_listen.ToString());
  return Status::Ok();
}

Status Daemon::StartEngine() {
  auto engine = std::make_unique<EngineLoop>(worker_.get());
  for (const auto& [name, path] : config_.models) {
    auto t0 = std::chrono::steady_clock::now();
    StatusOr<wire::ModelInfo> info = worker_->LoadModel({name, path, 0});
    if (!info.ok()) return info.status().WithContext("loading model '" + name + "' from " + path);
    auto tokenizer = model::LoadTokenizerFromGguf(path);
    if (!tokenizer.ok()) return tokenizer.status().WithContext("loading the tokenizer of model '" + name + "'");
    Status st = engine->AddModel(*info, std::move(tokenizer).value());
    if (!st.ok()) return st.WithContext("model '" + name + "'");
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    LogInfo("model ready")
        .Kv("name", name)
        .Kv("path", path)
        .Kv("context", info->context_length)
        .Kv("kv_blocks", info->num_kv_blocks)
        .Kv("seconds", seconds);
  }
  engine->Start();
  engine_ = std::move(engine);
  return Status::Ok();
}

Status Daemon::Listen(httplib::Server& server, const HostPort& where, std::thread* thread) {
  if (!server.bind_to_port(where.host, where.port)) {
    return Status::Unavailable("cannot listen on " + where.ToString() + " (in use, or not a local address?)");
  }
  *thread = std::thread([&server] { server.listen_after_bind(); });
  return Status::Ok();
}

void Daemon::Stop() {
  // The engine first: it finishes every open request, so streaming handlers
  // return before the listeners wait for them.
  if (engine_) engine_->Stop();
  for (auto* server : {api_.get(), admin_.get()}) {
    if (server) server->stop();
  }
  if (api_thread_.joinable()) api_thread_.join();
  if (admin_thread_.joinable()) admin_thread_.join();
  if (worker_) worker_->Stop();
}

void Daemon::RegisterApiRoutes() {
  api_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  api_->Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(ModelsJson(), "application/json");
  });
  RegisterOpenAiRoutes(*api_, {[this] { return engine(); }, UnixSeconds(started_at_)});
}

void Daemon::RegisterAdminRoutes() {
  admin_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  admin_->Get("/admin/v1/status", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(StatusJson(), "application/json");
  });
}

std::string Daemon::ModelsJson() {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("object");
  w.String("list");
  w.Key("data");
  w.StartArray();
  for (const auto& [name, path] : config_.models) {
    w.StartObject();
    w.Key("id");
    WriteString(w, name);
    w.Key("object");
    w.String("model");
    w.Key("created");
    w.Int64(UnixSeconds(started_at_));
    w.Key("owned_by");
    w.String("hearth");
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return buf.GetString();
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
  w.Key("listen");
  WriteString(w, config_.listen.ToString());
  w.Key("data_dir");
  WriteString(w, config_.data_dir);
  w.Key("workers");
  w.StartArray();
  if (worker_) {
    w.StartObject();
    w.Key("id");
    w.Int(0);
    w.Key("pid");
    w.Int(worker_->pid());
    w.Key("backend");
    WriteString(w, worker_->hello().backend);
    w.Key("device");
    WriteString(w, worker_->hello().device);
    w.Key("alive");
    w.Bool(worker_->Ping().ok());
    w.EndObject();
  }
  w.EndArray();
  w.Key("models");
  w.StartArray();
  for (const auto& [name, path] : config_.models) {
    w.StartObject();
    w.Key("name");
    WriteString(w, name);
    w.Key("path");
    WriteString(w, path);
    if (engine_) {
      w.Key("context_length");
      w.Int(engine_->context_length(name));
    }
    w.EndObject();
  }
  w.EndArray();
  if (engine_) {
    EngineStats stats = engine_->Stats();
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
