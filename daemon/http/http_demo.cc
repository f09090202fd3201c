// A tiny server for bench/http/hold_connections.py: /healthz answers inline, /stream sends one
// chunk a second for ?seconds=N (default 60). Not a test; run it by hand.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "daemon/http/http_server.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;

void Serve(hearth::http::Router& router) {
  using hearth::http::Request;
  using hearth::http::Response;
  router.Get(
      "/healthz", [](const Request&, Response& res) { res.set_content(R"({"status":"ok"})", "application/json"); },
      {.run_inline = true});
  router.Get("/stream", [](const Request& req, Response& res) {
    struct State {
      std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
      int sent = 0;
      int total = 60;
    };
    auto state = std::make_shared<State>();
    if (req.has_param("seconds")) state->total = std::atoi(req.get_param_value("seconds").c_str());
    res.set_chunked_content_provider("text/plain", [state](size_t, httplib::DataSink& sink) {
      const auto elapsed = std::chrono::steady_clock::now() - state->start;
      const int due = static_cast<int>(elapsed / std::chrono::seconds(1)) + 1;
      if (state->sent < due && state->sent < state->total) {
        const std::string line = "chunk " + std::to_string(state->sent++) + "\n";
        sink.write(line.data(), line.size());
      }
      if (state->sent >= state->total) sink.done();
      return true;
    });
  });
}

}  // namespace

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 8088;
  hearth::http::HttpServerOptions options;
  if (argc > 2) options.handler_threads = std::atoi(argv[2]);
  options.max_connections_per_ip = options.max_connections;  // the load tool runs on one address
  hearth::http::HttpServer server(options);
  Serve(server.router());
  auto bound = server.Start("127.0.0.1", port);
  if (!bound.ok()) {
    std::fprintf(stderr, "%s\n", bound.status().ToString().c_str());
    return 1;
  }
  std::printf("listening on 127.0.0.1:%d\n", *bound);
  std::fflush(stdout);
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.Stop();
  return 0;
}
