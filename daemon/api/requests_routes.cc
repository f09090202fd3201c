#include "daemon/api/requests_routes.h"

#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>
#include <string_view>

#include "common/json_writer.h"
#include "common/log.h"
#include "daemon/engine/engine.h"
#include "daemon/requests/request_id_text.h"
#include "daemon/api/event_stream.h"
#include "daemon/http/router.h"
#include "daemon/openai/openai_error.h"
#include "daemon/requests/request_registry.h"
#include "model/unicode.h"

namespace hearth::daemon {
namespace {

// How long DELETE waits for the engine to confirm a cancellation before answering anyway.
constexpr auto kCancelWait = std::chrono::seconds(5);

std::optional<uint64_t> ParseId(const std::string& text) {
  uint64_t id = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, id);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return id;
}

// Client text quoted in an error, kept short so that error bodies stay small.
std::string Quote(const std::string& text) {
  std::string out = "'";
  out.append(text, 0, 64);
  out.append(text.size() > 64 ? "...'" : "'");
  return out;
}

ApiError NotFound(const std::string& id) {
  return ApiError{404, "no request " + Quote(id) + " (unknown, or ended too long ago)", "invalid_request_error",
                  "id", "request_not_found"};
}

class RequestRoutes {
 public:
  explicit RequestRoutes(RequestRoutesOptions options) : options_(std::move(options)) {}

  double PerToken() const { return options_.dollars_per_token ? options_.dollars_per_token() : -1; }

  void Show(const httplib::Request& req, httplib::Response& res) {
    auto entry = Lookup(req, res);
    if (!entry) return;
    res.set_content(RequestJson(entry->Info(), /*with_output=*/true, options_.id_scope, PerToken()),
                    "application/json");
  }

  void Events(const httplib::Request& req, httplib::Response& res) {
    auto entry = Lookup(req, res);
    if (!entry) return;
    uint64_t after = 0;
    // An empty Last-Event-ID, like none, means from the start.
    if (const std::string value = req.get_header_value("Last-Event-ID"); !value.empty()) {
      auto parsed = ParseId(value);
      if (!parsed) {
        return SetError(res, {400, "Last-Event-ID must be an event id from this stream (a decimal number), got " +
                                       Quote(value),
                              "invalid_request_error", "Last-Event-ID", ""});
      }
      after = *parsed;
    }
    // A watcher going away leaves the request alone.
    ServeEventStream(res, std::move(entry), after, nullptr, options_.open_streams);
  }

  void Cancel(const httplib::Request& req, httplib::Response& res) {
    auto entry = Lookup(req, res);
    if (!entry) return;
    if (!entry->done()) {
      Engine* engine = options_.engine ? options_.engine() : nullptr;
      if (engine) engine->Cancel(entry->id());
      LogInfo("request cancelled by client").Kv("id", entry->id()).Kv("route", options_.prefix);
      entry->WaitDone(kCancelWait);
    }
    res.set_content(RequestJson(entry->Info(), /*with_output=*/true, options_.id_scope, PerToken()),
                    "application/json");
  }

 private:
  std::shared_ptr<RequestEntry> Lookup(const httplib::Request& req, httplib::Response& res) {
    const std::string text = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
    auto id = ParseRequestIdText(options_.id_scope, text);
    std::shared_ptr<RequestEntry> entry = id ? options_.registry->Find(*id) : nullptr;
    if (!entry) SetError(res, NotFound(text));
    return entry;
  }

  const RequestRoutesOptions options_;
};

template <typename Fn>
httplib::Server::Handler Bind(std::shared_ptr<RequestRoutes> routes, Fn fn) {
  return [routes, fn](const httplib::Request& req, httplib::Response& res) { ((*routes).*fn)(req, res); };
}

}  // namespace

void RegisterRequestRoutes(http::Router& server, RequestRoutesOptions options) {
  const std::string one = options.prefix + "/([^/]+)";
  auto routes = std::make_shared<RequestRoutes>(std::move(options));
  server.Get(one, Bind(routes, &RequestRoutes::Show));
  server.Get(one + "/events", Bind(routes, &RequestRoutes::Events));
  server.Delete(one, Bind(routes, &RequestRoutes::Cancel));
}

double RequestCostDollars(const RequestInfo& info, double dollars_per_token) {
  const int32_t here = std::max(0, info.completion_tokens - info.remote_tokens);
  return info.remote_dollars + here * std::max(0.0, dollars_per_token);
}

std::string RequestJson(const RequestInfo& info, bool with_output, std::string_view id_scope,
                        double dollars_per_token) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("id");
  WriteString(w, RequestIdText(id_scope, info.id));
  w.Key("object");
  w.String("hearth.request");
  w.Key("model");
  WriteString(w, info.meta.model);
  w.Key("endpoint");
  WriteString(w, info.meta.endpoint);
  w.Key("stream");
  w.Bool(info.meta.stream);
  w.Key("state");
  w.String(RequestStateName(info.state));
  w.Key("created");
  w.Int64(info.meta.created_unix);
  w.Key("finished_at");
  if (info.finished_unix) w.Int64(info.finished_unix); else w.Null();
  w.Key("prompt_tokens");
  w.Int(info.meta.prompt_tokens);
  w.Key("completion_tokens");
  w.Int(info.finish_reason ? info.completion_tokens : info.num_tokens);
  if (with_output) {
    w.Key("text");
    WriteString(w, model::SanitizeUtf8(info.text));
    w.Key("tokens");
    w.StartArray();
    for (int32_t t : info.tokens) w.Int(t);
    w.EndArray();
  }
  if (!info.served_by.empty()) {
    w.Key("served_by");
    w.StartArray();
    for (const std::string& node : info.served_by) WriteString(w, node);
    w.EndArray();
  }
  w.Key("finish_reason");
  if (info.finish_reason) {
    w.String(FinishReasonName(*info.finish_reason));
  } else {
    w.Null();
  }
  w.Key("usage");
  if (!info.finish_reason) {
    w.Null();
  } else {
    w.StartObject();
    w.Key("prompt_tokens");
    w.Int(info.meta.prompt_tokens);
    w.Key("completion_tokens");
    w.Int(info.completion_tokens);
    w.Key("total_tokens");
    w.Int(info.meta.prompt_tokens + info.completion_tokens);
    w.EndObject();
  }
  if (info.finish_reason && dollars_per_token >= 0) {
    w.Key("cost_dollars");
    w.Double(RequestCostDollars(info, dollars_per_token));
  }
  w.Key("error");
  if (info.error.empty()) w.Null(); else WriteString(w, model::SanitizeUtf8(info.error));
  w.Key("events");
  w.Uint64(info.num_events);
  w.EndObject();
  return buf.GetString();
}

}  // namespace hearth::daemon
