#include "daemon/api/admin_routes.h"

#include <httplib.h>
#include <rapidjson/document.h>

#include <cctype>
#include <charconv>

#include "common/json_parse.h"
#include "common/json_writer.h"
#include "common/log.h"
#include "daemon/api/requests_routes.h"
#include "daemon/engine/engine.h"
#include "daemon/http/router.h"
#include "daemon/openai/openai_error.h"
#include "daemon/ops/preemption.h"
#include "daemon/requests/request_registry.h"
#include "scheduler/forecast.h"

namespace hearth::daemon {
namespace {

constexpr size_t kMaxListLimit = 10000;

ApiError BadRequest(std::string param, std::string message) {
  return ApiError{400, std::move(message), "invalid_request_error", std::move(param), ""};
}

// The body as a JSON object; an empty body is an empty object.
std::optional<ApiError> ParseObject(const std::string& body, rapidjson::Document* doc) {
  const Status parsed = ParseJsonObject(body.empty() ? std::string_view("{}") : std::string_view(body), doc);
  if (!parsed.ok()) return BadRequest("", "the body is " + parsed.message());
  return std::nullopt;
}

class AdminRoutes {
 public:
  explicit AdminRoutes(AdminRoutesOptions options) : options_(std::move(options)) {}

  void ListModels(const httplib::Request&, httplib::Response& res) {
    std::string body = "{\"object\":\"list\",\"data\":[";
    bool first = true;
    for (const ModelStatus& m : options_.models->List()) {
      if (!first) body += ",";
      first = false;
      body += ModelJson(m);
    }
    body += "]}";
    res.set_content(body, "application/json");
  }

  // POST /admin/v1/models {"name", "path", "pinned"?}: registers (stored) and loads.
  void AddModel(const httplib::Request& req, httplib::Response& res) {
    rapidjson::Document doc;
    if (auto e = ParseObject(req.body, &doc)) return SetError(res, *e);
    for (const char* field : {"name", "path"}) {
      if (!doc.HasMember(field) || !doc[field].IsString() || doc[field].GetStringLength() == 0) {
        return SetError(res, BadRequest(field, std::string(field) + " must be a non-empty string"));
      }
    }
    bool pinned = false;
    if (doc.HasMember("pinned")) {
      if (!doc["pinned"].IsBool()) return SetError(res, BadRequest("pinned", "pinned must be a boolean"));
      pinned = doc["pinned"].GetBool();
    }
    const std::string name(doc["name"].GetString(), doc["name"].GetStringLength());
    if (auto e = CheckName(name)) return SetError(res, *e);
    // With its length: a NUL inside the path must be refused, not cut the path short.
    const std::string path(doc["path"].GetString(), doc["path"].GetStringLength());
    if (path.find('\0') != std::string::npos) {
      return SetError(res, BadRequest("path", "path must not hold a NUL byte"));
    }
    StatusOr<ModelStatus> added = options_.models->Add(name, path, pinned);
    if (!added.ok()) return SetError(res, ModelError(added.status(), "path", "model_exists"));
    res.set_content(ModelJson(*added), "application/json");
  }

  // DELETE /admin/v1/models/{name}[?force=true]: unloads and forgets.
  void RemoveModel(const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
    Status st = options_.models->Remove(name, Force(req));
    if (!st.ok()) return SetError(res, ModelError(st, "", "model_busy"));
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("name");
    WriteString(w, name);
    w.Key("deleted");
    w.Bool(true);
    w.EndObject();
    res.set_content(buf.GetString(), "application/json");
  }

  // POST /admin/v1/models/{name}/(load|unload|stage|pin|unpin); unload and stage take ?force=true.
  void ModelAction(const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
    const std::string action = req.matches.size() > 2 ? std::string(req.matches[2]) : "";
    StatusOr<ModelStatus> done = Status::InvalidArgument("unknown action");
    if (action == "load") done = options_.models->Load(name);
    if (action == "unload") done = options_.models->Unload(name, Force(req));
    if (action == "stage") done = options_.models->Stage(name, Force(req));
    if (action == "pin" || action == "unpin") done = options_.models->SetPinned(name, action == "pin");
    if (!done.ok()) return SetError(res, ModelError(done.status(), "", "model_busy"));
    res.set_content(ModelJson(*done), "application/json");
  }

  // GET /admin/v1/models/{name}/history[?limit=N]: load windows, oldest first, and the forecast.
  void ModelHistory(const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
    int64_t limit = 48;
    if (req.has_param("limit")) {
      const std::string text = req.get_param_value("limit");
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
      if (ec != std::errc() || ptr != text.data() + text.size() || limit < 1 ||
          limit > static_cast<int64_t>(kMaxListLimit)) {
        return SetError(res, BadRequest("limit", "limit must be an integer in [1, 10000]"));
      }
    }
    if (!options_.history)
      return SetError(res, {404, "this hearthd keeps no load history", "invalid_request_error", "", "not_found"});
    bool known = false;
    for (const ModelStatus& m : options_.models->List()) known = known || m.name == name;
    StatusOr<LoadHistory> h = options_.history(name, limit);
    if (!h.ok()) return SetError(res, ErrorFromStatus(h.status()));
    if (!known && h->windows.empty()) {
      return SetError(res, {404, "no model '" + name + "'", "invalid_request_error", "", "model_not_found"});
    }
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("model");
    WriteString(w, name);
    w.Key("windows");
    w.StartArray();
    for (const store::LoadWindow& win : h->windows) {
      w.StartObject();
      w.Key("start");
      w.Int64(win.start_s);
      w.Key("seconds");
      w.Int64(win.seconds);
      w.Key("avg");
      w.Double(win.avg);
      w.Key("peak");
      w.Double(win.peak);
      w.Key("arrivals");
      w.Int64(win.arrivals);
      w.EndObject();
    }
    w.EndArray();
    w.Key("forecast");
    w.StartObject();
    w.Key("avg");
    w.Double(h->forecast.predicted.avg);
    w.Key("peak");
    w.Double(h->forecast.predicted.peak);
    w.Key("baseline_avg");
    w.Double(h->forecast.baseline.avg);
    w.Key("baseline_peak");
    w.Double(h->forecast.baseline.peak);
    w.Key("correction_avg");
    w.Double(h->forecast.correction.avg);
    w.Key("correction_peak");
    w.Double(h->forecast.correction.peak);
    w.Key("periodic");
    w.Bool(h->forecast.periodic);
    w.EndObject();
    // How the forecaster did over these windows, against the naive "next = last window".
    std::vector<scheduler::WindowLoad> series;
    series.reserve(h->windows.size());
    for (const store::LoadWindow& win : h->windows) series.push_back({win.avg, win.peak});
    const scheduler::ForecastError error = scheduler::Evaluate(series, options_.forecast_options);
    w.Key("error");
    w.StartObject();
    w.Key("windows");
    w.Int64(error.windows);
    w.Key("avg");
    w.Double(error.avg);
    w.Key("peak");
    w.Double(error.peak);
    w.Key("naive_avg");
    w.Double(error.naive_avg);
    w.Key("naive_peak");
    w.Double(error.naive_peak);
    w.EndObject();
    w.EndObject();
    res.set_content(buf.GetString(), "application/json");
  }

  // GET /admin/v1/requests?state=running&limit=50
  void ListRequests(const httplib::Request& req, httplib::Response& res) {
    RequestFilter filter;
    if (req.has_param("state")) {
      RequestState state;
      const std::string name = req.get_param_value("state");
      if (!ParseRequestState(name, &state)) {
        return SetError(res, BadRequest("state", "state must be queued, running, finished, cancelled or failed, "
                                                 "got '" + name + "'"));
      }
      filter.state = state;
    }
    if (req.has_param("limit")) {
      const std::string text = req.get_param_value("limit");
      size_t limit = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
      if (ec != std::errc() || ptr != text.data() + text.size() || limit == 0 || limit > kMaxListLimit) {
        return SetError(res, BadRequest("limit", "limit must be an integer in [1, 10000]"));
      }
      filter.limit = limit;
    }
    std::string body = "{\"object\":\"list\",\"data\":[";
    bool first = true;
    for (const RequestInfo& info : options_.registry->List(filter)) {
      if (!first) body += ",";
      first = false;
      body += RequestJson(info, /*with_output=*/false, options_.id_scope);
    }
    body += "]}";
    res.set_content(body, "application/json");
  }

  // POST /admin/v1/drain; {"resume": true} undoes it.
  void Drain(const httplib::Request& req, httplib::Response& res) {
    rapidjson::Document doc;
    if (auto e = ParseObject(req.body, &doc)) return SetError(res, *e);
    bool resume = false;
    if (doc.HasMember("resume")) {
      if (!doc["resume"].IsBool()) return SetError(res, BadRequest("resume", "resume must be a boolean"));
      resume = doc["resume"].GetBool();
    }
    options_.set_draining(!resume);
    LogInfo(resume ? "drain lifted: admitting requests" : "draining: not admitting new requests");
    res.set_content(DrainJson(), "application/json");
  }

  // POST /admin/v1/preempt, optionally {"grace_seconds": N}: a spot preemption notice.
  void Preempt(const httplib::Request& req, httplib::Response& res) {
    StatusOr<std::optional<double>> grace = ParsePreemptRequest(req.body);
    if (!grace.ok()) return SetError(res, BadRequest("grace_seconds", grace.status().message()));
    if (!options_.preempt) {
      return SetError(res, {409, "this hearthd takes no preemption notices", "invalid_request_error", "", ""});
    }
    LogInfo("preemption notice from the admin API");
    res.set_content(options_.preempt(*grace), "application/json");
  }

  void Reload(const httplib::Request&, httplib::Response& res) {
    StatusOr<ReloadReport> report = options_.reload();
    if (!report.ok()) {
      ApiError e = ErrorFromStatus(report.status());
      e.message = "configuration not reloaded: " + e.message;
      if (e.http_status == 500) e.http_status = 409;  // e.g. no configuration file to read
      return SetError(res, e);
    }
    res.set_content(ReloadReportJson(*report), "application/json");
  }

 private:
  static std::string ModelJson(const ModelStatus& m) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("name");
    WriteString(w, m.name);
    w.Key("path");
    WriteString(w, m.path);
    w.Key("state");
    WriteString(w, m.state);
    w.Key("pinned");
    w.Bool(m.pinned);
    w.Key("source");
    WriteString(w, m.source);
    w.Key("worker");  // the one that holds it; null when none does
    if (m.worker >= 0) {
      w.Int(m.worker);
    } else {
      w.Null();
    }
    w.Key("context_length");
    w.Int(m.context_length);
    w.Key("last_used");
    w.Int64(m.last_used);
    w.Key("loads");
    w.Int64(m.loads);
    w.Key("last_load_seconds");
    w.Double(m.last_load_seconds);
    w.Key("bytes");
    w.Uint64(m.bytes);
    w.Key("active_requests");
    w.Int64(m.active_requests);
    w.Key("evictions");
    w.Int64(m.evictions);
    w.Key("staged");
    w.Bool(m.staged);
    w.Key("staged_bytes");
    w.Uint64(m.staged_bytes);
    w.Key("swap_ins");
    w.Int64(m.swap_ins);
    w.Key("swap_outs");
    w.Int64(m.swap_outs);
    w.Key("last_swap_in_seconds");
    w.Double(m.last_swap_in_seconds);
    w.Key("progress");  // while the file is read (a cold load or a stage)
    if (m.progress_total == 0) {
      w.Null();
    } else {
      w.StartObject();
      w.Key("done");
      w.Uint64(m.progress_done);
      w.Key("total");
      w.Uint64(m.progress_total);
      w.EndObject();
    }
    w.Key("last_error");
    if (m.last_error.empty()) {
      w.Null();
    } else {
      WriteString(w, m.last_error);
    }
    // Placement by forecast (docs/models.md, "Prewarm").
    w.Key("predicted_avg");
    w.Double(m.predicted_avg);
    w.Key("predicted_peak");
    w.Double(m.predicted_peak);
    w.Key("predicted_arrivals");
    w.Double(m.predicted_arrivals);
    w.Key("observed_avg");
    w.Double(m.observed_avg);
    w.Key("observed_peak");
    w.Double(m.observed_peak);
    w.Key("score");
    w.Double(m.score);
    w.Key("planned_state");  // null under policy lru or before the first plan
    if (m.planned_state.empty()) {
      w.Null();
    } else {
      WriteString(w, m.planned_state);
    }
    w.Key("batch_size");
    w.Int(m.batch_size);
    w.Key("prewarm_actions");
    w.Int64(m.prewarm_actions);
    w.Key("prewarm_hits");
    w.Int64(m.prewarm_hits);
    w.Key("prewarm_waste");
    w.Int64(m.prewarm_waste);
    w.EndObject();
    return buf.GetString();
  }

  static bool Force(const httplib::Request& req) {
    if (!req.has_param("force")) return false;
    const std::string v = req.get_param_value("force");
    return v.empty() || v == "true" || v == "1";
  }

  // Names go into URLs (/admin/v1/models/{name}) and metric labels.
  static std::optional<ApiError> CheckName(const std::string& name) {
    bool ok = !name.empty() && name.size() <= 128;
    for (char c : name) {
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == ':');
    }
    if (ok) return std::nullopt;
    return BadRequest("name", "name must be 1 to 128 characters of letters, digits, '.', '_', '-' or ':'");
  }

  // `conflict`: the code of a 409 (FailedPrecondition).
  static ApiError ModelError(const Status& st, const char* invalid_param, const char* conflict) {
    switch (st.code()) {
      case Status::Code::kNotFound:
        return {404, st.message(), "invalid_request_error", "model", "model_not_found"};
      case Status::Code::kInvalidArgument:
        return BadRequest(invalid_param, st.message());
      case Status::Code::kFailedPrecondition:
        return {409, st.message(), "invalid_request_error", "", conflict};
      case Status::Code::kResourceExhausted:  // the staged budget is full
        return {409, st.message(), "invalid_request_error", "", "staging_full"};
      default:
        return ErrorFromStatus(st);
    }
  }

  std::string DrainJson() {
    EngineStats stats;
    if (Engine* engine = options_.engine ? options_.engine() : nullptr) stats = engine->Stats();
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("draining");
    w.Bool(options_.draining());
    w.Key("queued");
    w.Int64(stats.num_waiting);
    w.Key("running");
    w.Int64(stats.num_running);
    w.EndObject();
    return buf.GetString();
  }

  const AdminRoutesOptions options_;
};

template <typename Fn>
httplib::Server::Handler Bind(std::shared_ptr<AdminRoutes> routes, Fn fn) {
  return [routes, fn](const httplib::Request& req, httplib::Response& res) { ((*routes).*fn)(req, res); };
}

}  // namespace

void RegisterAdminApi(http::Router& server, AdminRoutesOptions options) {
  RegisterRequestRoutes(server,
                        {options.registry, options.engine, "/admin/v1/requests", options.open_streams, options.id_scope});
  auto routes = std::make_shared<AdminRoutes>(std::move(options));
  server.Get("/admin/v1/models", Bind(routes, &AdminRoutes::ListModels));
  server.Post("/admin/v1/models", Bind(routes, &AdminRoutes::AddModel));
  server.Delete("/admin/v1/models/([^/]+)", Bind(routes, &AdminRoutes::RemoveModel));
  server.Post("/admin/v1/models/([^/]+)/(load|unload|stage|pin|unpin)", Bind(routes, &AdminRoutes::ModelAction));
  server.Get("/admin/v1/models/([^/]+)/history", Bind(routes, &AdminRoutes::ModelHistory));
  server.Get("/admin/v1/requests", Bind(routes, &AdminRoutes::ListRequests));
  server.Post("/admin/v1/drain", Bind(routes, &AdminRoutes::Drain));
  server.Post("/admin/v1/reload", Bind(routes, &AdminRoutes::Reload));
  server.Post("/admin/v1/preempt", Bind(routes, &AdminRoutes::Preempt));
}

}  // namespace hearth::daemon
