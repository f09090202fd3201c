#include "daemon/http/router.h"

#include <cstdio>
#include <random>

namespace hearth::http {
namespace {

void EnsureRequestId(Response& res) {
  if (res.has_header(kRequestIdHeader)) return;
  thread_local std::mt19937_64 rng{(static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}()};
  char id[24];
  snprintf(id, sizeof(id), "local-%016llx", static_cast<unsigned long long>(rng()));
  res.set_header(kRequestIdHeader, id);
}

}  // namespace

Router& Router::Add(const char* method, const std::string& pattern, Handler handler, RouteOptions options) {
  routes_.push_back(Route{method, std::regex(pattern), std::move(handler), options});
  return *this;
}

Router& Router::Get(const std::string& p, Handler h, RouteOptions o) { return Add("GET", p, std::move(h), o); }
Router& Router::Post(const std::string& p, Handler h, RouteOptions o) { return Add("POST", p, std::move(h), o); }
Router& Router::Put(const std::string& p, Handler h, RouteOptions o) { return Add("PUT", p, std::move(h), o); }
Router& Router::Patch(const std::string& p, Handler h, RouteOptions o) { return Add("PATCH", p, std::move(h), o); }
Router& Router::Delete(const std::string& p, Handler h, RouteOptions o) { return Add("DELETE", p, std::move(h), o); }

Router& Router::set_pre_routing_handler(HandlerWithResponse handler) {
  pre_routing_ = std::move(handler);
  return *this;
}
Router& Router::set_error_handler(Handler handler) {
  error_handler_ = std::move(handler);
  return *this;
}
Router& Router::set_exception_handler(ExceptionHandler handler) {
  exception_handler_ = std::move(handler);
  return *this;
}
Router& Router::set_payload_max_length(size_t length) {
  payload_max_length_ = length;
  return *this;
}

const Router::Route* Router::Find(const std::string& method, const std::string& path, std::string* allow) const {
  const std::string& wanted = method == "HEAD" ? std::string("GET") : method;
  const Route* found = nullptr;
  for (const Route& route : routes_) {
    if (!std::regex_match(path, route.pattern)) continue;
    if (route.method == wanted) {
      found = found ? found : &route;
    } else if (allow && allow->find(route.method) == std::string::npos) {
      *allow += (allow->empty() ? "" : ", ") + route.method;
    }
    if (found && !allow) break;
  }
  return found;
}

bool Router::RunsInline(const std::string& method, const std::string& path) const {
  const Route* route = Find(method, path, nullptr);
  return route && route->options.run_inline;
}

void Router::Guarded(const Request& req, Response& res, const std::function<void()>& fn) const {
  try {
    fn();
    return;
  } catch (...) {
    res.status = 500;
    if (exception_handler_) {
      try {
        exception_handler_(req, res, std::current_exception());
        return;
      } catch (...) {
      }
    }
  }
  res.status = 500;
  res.set_content(R"({"error":{"message":"internal error","type":"server_error","param":null,"code":null}})",
                  "application/json");
}

void Router::Dispatch(Request& req, Response& res) const {
  Guarded(req, res, [&] {
    if (pre_routing_ && pre_routing_(req, res) == HandlerResponse::Handled) return;
    std::string allow;
    const Route* route = Find(req.method, req.path, &allow);
    if (route) {
      std::regex_match(req.path, req.matches, route->pattern);  // captures point into req.path
      route->handler(req, res);
    } else if (!allow.empty()) {
      res.status = 405;
      res.set_header("Allow", allow);
    } else {
      res.status = 404;
    }
  });
  if (res.status == -1) res.status = 200;
  if (res.status >= 400) RunErrorHandler(req, res);
  EnsureRequestId(res);
}

void Router::HandleError(const Request& req, Response& res) const {
  RunErrorHandler(req, res);
  EnsureRequestId(res);
}

void Router::RunErrorHandler(const Request& req, Response& res) const {
  if (error_handler_) Guarded(req, res, [&] { error_handler_(req, res); });
}

}  // namespace hearth::http
