#include "daemon/admin_routes.h"

#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <filesystem>

#include "common/log.h"
#include "daemon/engine.h"
#include "daemon/openai_error.h"
#include "daemon/request_registry.h"
#include "daemon/requests_routes.h"

namespace hearth::daemon {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr size_t kMaxListLimit = 10000;

void WriteString(JsonWriter& w, const std::string& s) {
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
}

ApiError BadRequest(std::string param, std::string message) {
  return ApiError{400, std::move(message), "invalid_request_error", std::move(param), ""};
}

// The body as a JSON object; an empty body is an empty object.
std::optional<ApiError> ParseObject(const std::string& body, rapidjson::Document* doc) {
  doc->Parse(body.empty() ? "{}" : body.c_str(), body.empty() ? 2 : body.size());
  if (doc->HasParseError() || !doc->IsObject()) return BadRequest("", "the body must be a JSON object");
  return std::nullopt;
}

class AdminRoutes {
 public:
  explicit AdminRoutes(AdminRoutesOptions options) : options_(std::move(options)) {}

  void ListModels(const httplib::Request&, httplib::Response& res) {
    rapidjson::StringBuffer buf;
    JsonWriter w(buf);
    w.StartObject();
    w.Key("object");
    w.String("list");
    w.Key("data");
    w.StartArray();
    for (const ModelStatus& m : options_.models()) {
      w.StartObject();
      w.Key("name");
      WriteString(w, m.name);
      w.Key("path");
      WriteString(w, m.path);
      w.Key("context_length");
      w.Int(m.context_length);
      w.Key("state");
      WriteString(w, m.state);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    res.set_content(buf.GetString(), "application/json");
  }

  // Loading at run time needs the engine to take a model while it steps the worker (issue 8):
  // for now a clear refusal, after the checks a real load would make.
  void LoadModel(const httplib::Request& req, httplib::Response& res) {
    rapidjson::Document doc;
    if (auto e = ParseObject(req.body, &doc)) return SetError(res, *e);
    for (const char* field : {"name", "path"}) {
      if (!doc.HasMember(field) || !doc[field].IsString() || doc[field].GetStringLength() == 0) {
        return SetError(res, BadRequest(field, std::string(field) + " must be a non-empty string"));
      }
    }
    const std::string name = doc["name"].GetString();
    const std::string path = doc["path"].GetString();
    for (const ModelStatus& m : options_.models()) {
      if (m.name != name) continue;
      if (m.path == path) {
        res.set_content(ModelJson(m), "application/json");  // already what was asked for
        return;
      }
      return SetError(res, {409, "model '" + name + "' is already loaded from " + m.path +
                                     "; replacing it at run time is not supported yet: change [models] and restart",
                            "invalid_request_error", "name", "model_exists"});
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return SetError(res, BadRequest("path", "no file at " + path));
    SetError(res, {409,
                   "loading a model at run time is not supported yet (one worker, models load at start): add " + name +
                       " to [models] in the configuration and restart hearthd",
                   "invalid_request_error", "", "runtime_model_loading_unsupported"});
  }

  void UnloadModel(const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
    for (const ModelStatus& m : options_.models()) {
      if (m.name != name) continue;
      return SetError(res, {409,
                            "unloading a model at run time is not supported yet: remove " + name +
                                " from [models] in the configuration and restart hearthd",
                            "invalid_request_error", "", "runtime_model_loading_unsupported"});
    }
    SetError(res, {404, "no model '" + name + "'", "invalid_request_error", "model", "model_not_found"});
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
      body += RequestJson(info, /*with_output=*/false);
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
    w.Key("context_length");
    w.Int(m.context_length);
    w.Key("state");
    WriteString(w, m.state);
    w.EndObject();
    return buf.GetString();
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

void RegisterAdminApi(httplib::Server& server, AdminRoutesOptions options) {
  RegisterRequestRoutes(server, {options.registry, options.engine, "/admin/v1/requests"});
  auto routes = std::make_shared<AdminRoutes>(std::move(options));
  server.Get("/admin/v1/models", Bind(routes, &AdminRoutes::ListModels));
  server.Post("/admin/v1/models", Bind(routes, &AdminRoutes::LoadModel));
  server.Delete("/admin/v1/models/([^/]+)", Bind(routes, &AdminRoutes::UnloadModel));
  server.Get("/admin/v1/requests", Bind(routes, &AdminRoutes::ListRequests));
  server.Post("/admin/v1/drain", Bind(routes, &AdminRoutes::Drain));
  server.Post("/admin/v1/reload", Bind(routes, &AdminRoutes::Reload));
}

}  // namespace hearth::daemon
