// The route table: which handler answers a request, with httplib::Server's registration methods
// so route code written for httplib moves over with a type change. No I/O here.
#pragma once

#include <httplib.h>

#include <exception>
#include <functional>
#include <regex>
#include <string>
#include <vector>

namespace hearth::http {

using Request = httplib::Request;
using Response = httplib::Response;
using Handler = std::function<void(const Request&, Response&)>;
using HandlerResponse = httplib::Server::HandlerResponse;
using HandlerWithResponse = std::function<HandlerResponse(const Request&, Response&)>;
using ExceptionHandler = std::function<void(const Request&, Response&, std::exception_ptr)>;

// Every response carries this header (docs/api.md): the route sets the engine's request id; a
// response that has none when it leaves the router (a probe, /v1/models, a 404, a refusal the
// server made itself) gets `local-<16 hex digits>`. Router::Dispatch and HandleError apply it.
inline constexpr const char* kRequestIdHeader = "X-Request-Id";

// Whether the client that sent `req` is still connected, for a handler that waits a long time
// before answering (a non-streamed generation): false once the client closed the connection
// (or half-closed it: EOF counts as gone) or the connection was closed. The server keeps the
// answer in httplib's client-side Request::progress, which a server leaves unused.
inline bool ClientConnected(const Request& req) { return !req.progress || req.progress(0, 0); }

struct RouteOptions {
  // Runs on the I/O thread instead of the handler pool, so it answers while the pool is
  // saturated. Only for cheap handlers that never block (/healthz, /readyz).
  bool run_inline = false;
};

class Router {
 public:
  // `pattern` is a std::regex matched against the whole decoded path; captures land in
  // req.matches. HEAD requests are answered by the GET route, without the body.
  Router& Get(const std::string& pattern, Handler handler, RouteOptions options = {});
  Router& Post(const std::string& pattern, Handler handler, RouteOptions options = {});
  Router& Put(const std::string& pattern, Handler handler, RouteOptions options = {});
  Router& Patch(const std::string& pattern, Handler handler, RouteOptions options = {});
  Router& Delete(const std::string& pattern, Handler handler, RouteOptions options = {});

  // Runs before routing; Handled means the response is final (e.g. an auth refusal).
  Router& set_pre_routing_handler(HandlerWithResponse handler);
  // Runs for every response with status >= 400 (as httplib does), e.g. to fill an empty body.
  Router& set_error_handler(Handler handler);
  // Runs when a handler throws; without one the answer is a plain 500.
  Router& set_exception_handler(ExceptionHandler handler);
  // Largest request body accepted (413 above it); read by the server's parser.
  Router& set_payload_max_length(size_t length);
  size_t payload_max_length() const { return payload_max_length_; }

  // True when the route for this method and path runs on the I/O thread.
  bool RunsInline(const std::string& method, const std::string& path) const;

  // Answers `req`: pre-routing, the route (404, or 405 with Allow), the error handler, the
  // request id. Never throws. Sets status 200 when the handler left it unset.
  void Dispatch(Request& req, Response& res) const;

  // Gives a response the server made itself (a refused request) to the error handler, and
  // gives it a request id.
  void HandleError(const Request& req, Response& res) const;

 private:
  struct Route {
    std::string method;
    std::regex pattern;
    Handler handler;
    RouteOptions options;
  };

  Router& Add(const char* method, const std::string& pattern, Handler handler, RouteOptions options);
  const Route* Find(const std::string& method, const std::string& path, std::string* allow) const;
  void Guarded(const Request& req, Response& res, const std::function<void()>& fn) const;
  void RunErrorHandler(const Request& req, Response& res) const;

  // Constant once the server starts.
  std::vector<Route> routes_;
  HandlerWithResponse pre_routing_;
  Handler error_handler_;
  ExceptionHandler exception_handler_;
  size_t payload_max_length_ = 8 * 1024 * 1024;
};

}  // namespace hearth::http
