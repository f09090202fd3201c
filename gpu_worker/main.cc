// hearth-worker: a universal worker. hearthd starts it with `serve`; the
// other subcommands run a model offline.
#include <CLI/CLI.hpp>

#include "common/log.h"
#include "gpu_worker/worker_server.h"

int main(int argc, char** argv) {
  using namespace hearth;
  CLI::App app{"hearth-worker: runs models for hearthd, or offline"};
  app.require_subcommand(1);

  worker::WorkerOptions serve_options;
  CLI::App* serve = app.add_subcommand("serve", "serve hearthd over an inherited Unix socket");
  serve->add_option("--fd", serve_options.fd, "file descriptor of the socket")->required();
  serve->add_option("--threads", serve_options.threads, "CPU threads (0: all cores)");

  CLI11_PARSE(app, argc, argv);

  if (serve->parsed()) {
    Status st = worker::ServeDaemon(serve_options);
    if (!st.ok()) {
      LogError("worker failed").Kv("error", st.ToString());
      return 1;
    }
    return 0;
  }
  return 2;
}
