// Hearth's HTTP/1.1 listener on Boost.Asio: a few I/O threads own every socket and timer, a
// handler pool runs routes and stream providers. Slow or idle clients cost a socket and a few
// kilobytes, never a thread. Routes are registered on router() before Start().
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// clang-format off
#include <boost/asio.hpp>
// clang-format on
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "daemon/http/connection.h"
#include "daemon/http/connection_table.h"
#include "daemon/http/http_options.h"
#include "daemon/http/provider_queue.h"
#include "daemon/http/router.h"

namespace hearth::http {

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options = {});
  ~HttpServer();  // Stop()

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  Router& router() { return router_; }

  // Binds host:port (port 0: any free port) without listening yet: a client is refused until
  // Serve(). Returns the bound port; a port in use or an unknown host fails at once. A daemon
  // binds before its slow start (loading models) so that a taken port fails in milliseconds.
  StatusOr<int> Bind(const std::string& host, int port);
  // Listens and serves on the bound port; routes are registered before. Raises RLIMIT_NOFILE's
  // soft limit to the hard one.
  Status Serve();
  // Bind() then Serve().
  StatusOr<int> Start(const std::string& host, int port);

  // Closes the listener and every connection (running stream providers see is_writable() go
  // false; their releasers run with false), waits for running handlers, joins the threads.
  void Stop();

  // Connections currently admitted (refused ones are not counted).
  size_t num_connections() { return table_.num_admitted(); }

 private:
  void Accept();
  void OnAccept(const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket);

  // Constant after construction (router_: after Start).
  const HttpServerOptions options_;
  Router router_;
  ConnectionTable table_;
  ConnectionContext context_;

  // Declared in this order so that the pool's leftover tasks die before the sockets they hold.
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  boost::asio::ip::tcp::acceptor acceptor_;       // its strand only
  boost::asio::steady_timer accept_retry_;        // its strand only
  std::unique_ptr<boost::asio::thread_pool> handlers_;
  std::unique_ptr<ProviderQueue> providers_;  // feeds handlers_
  std::vector<std::thread> io_threads_;
  std::string where_;  // host:port once bound
  bool bound_ = false;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace hearth::http
