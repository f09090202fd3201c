// hearthd: the per-node Hearth daemon.
#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "common/log.h"
#include "daemon/daemon.h"
#include "daemon/ops/systemd_notifier.h"

namespace {

std::string DefaultConfigPath() {
  if (const char* env = std::getenv("HEARTH_CONFIG")) return env;
  if (std::filesystem::exists("/etc/hearth/hearth.toml")) return "/etc/hearth/hearth.toml";
  return "";
}

std::string DefaultDataDir() {
  if (const char* state = std::getenv("STATE_DIRECTORY")) return state;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/tmp") + "/.local/share/hearth";
}

// Every open connection is a file descriptor; the usual soft limit of 1024 would cap hearthd
// far below [http] max_connections. Raise it to the hard limit.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t old_soft = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  hearth::LogInfo("raised the open file limit").Kv("from", old_soft).Kv("to", limit.rlim_cur);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hearth;
  CLI::App app{"hearthd: serves LLMs over an OpenAI-compatible API"};
  app.set_version_flag("--version", "hearthd " HEARTH_VERSION, "print hearthd's version and exit");
  std::string config_path = DefaultConfigPath();
  std::string listen, admin_listen, data_dir, log_level, worker_binary;
  std::vector<std::string> model_flags;
  int threads = -1, http_threads = -1;
  app.add_option("--config", config_path, "TOML configuration file")->capture_default_str();
  app.add_option("--listen", listen, "HOST:PORT of the API (default 127.0.0.1:8080)");
  app.add_option("--admin-listen", admin_listen, "HOST:PORT of the admin API (default 127.0.0.1:8081)");
  app.add_option("--data-dir", data_dir, "directory for the database (default ~/.local/share/hearth)");
  app.add_option("--model", model_flags, "serve a model: NAME=PATH (repeatable)");
  app.add_option("--worker-binary", worker_binary, "path of hearth-worker (default: beside hearthd)");
  app.add_option("--threads", threads, "CPU threads per worker (default: all cores)");
  app.add_option("--log-level", log_level, "debug, info, warn or error");
  app.add_option("--http-threads", http_threads,
                 "threads that run API handlers; a non-streamed completion holds one until it ends (default 256)");
  int64_t max_queued_requests = -1, max_queued_tokens = -1;
  double health_stall_seconds = -1;
  app.add_option("--max-queued-requests", max_queued_requests,
                 "requests waiting for a first token before 429 (default 256; 0: no limit)");
  app.add_option("--max-queued-tokens", max_queued_tokens,
                 "their prompt tokens before 429 (default 65536; 0: no limit)");
  app.add_option("--health-stall-seconds", health_stall_seconds,
                 "/healthz fails when work waits this long with no token (default 60; 0: never)");
  int token_budget = -1, max_num_seqs = -1;
  double target_step_ms = -1;
  bool no_chunked_prefill = false;
  app.add_option("--token-budget", token_budget, "tokens per scheduler step (default: measured at model load)");
  app.add_option("--max-num-seqs", max_num_seqs, "sequences per step and running at once (default 64)");
  app.add_option("--target-step-ms", target_step_ms, "the token budget profile's step time target (default 100)");
  app.add_flag("--no-chunked-prefill", no_chunked_prefill, "whole prompts first: never cut a prompt into chunks");
  std::string etcd, node_name, advertise, instance;
  double price_per_hour = -1;
  app.add_option("--etcd", etcd, "join a cluster: etcd's client URLs, URL[,URL...] (docs/cluster.md)");
  app.add_option("--node-name", node_name, "this node's name in the cluster (default: the host name)");
  app.add_option("--advertise", advertise, "the URL other nodes reach this node's API at (default: http://LISTEN)");
  app.add_option("--instance", instance, "on-demand or spot (default on-demand)");
  app.add_option("--price-per-hour", price_per_hour, "what this node costs per hour, for placement (default 0)");
  CLI11_PARSE(app, argc, argv);

  auto fail = [](const Status& st) {
    LogError("hearthd failed").Kv("error", st.ToString());
    return 1;
  };
  // Defaults, the file, the environment, then the flags. Run again on every reload (SIGHUP,
  // POST /admin/v1/reload), so the flags keep overriding what the file says.
  auto load_config = [&]() -> StatusOr<daemon::Config> {
    daemon::Config config;
    if (!config_path.empty()) {
      Status st = daemon::LoadConfigFile(config_path, &config);
      if (!st.ok()) return st.WithContext("config");
    }
    daemon::ApplyEnvironment(&config, [](const char* name) { return std::getenv(name); });
    if (!listen.empty()) {
      HEARTH_ASSIGN_OR_RETURN(config.listen, daemon::ParseHostPort(listen));
    }
    if (!admin_listen.empty()) {
      HEARTH_ASSIGN_OR_RETURN(config.admin_listen, daemon::ParseHostPort(admin_listen));
    }
    if (!data_dir.empty()) config.data_dir = data_dir;
    if (config.data_dir.empty()) config.data_dir = DefaultDataDir();
    if (!worker_binary.empty()) config.worker_binary = worker_binary;
    if (threads >= 0) config.worker_threads = threads;
    if (http_threads >= 0) {
      if (http_threads < 4) return Status::InvalidArgument("--http-threads must be at least 4");
      config.http_threads = http_threads;
    }
    if (!log_level.empty()) config.log_level = log_level;
    if (max_queued_requests >= 0) config.max_queued_requests = max_queued_requests;
    if (max_queued_tokens >= 0) config.max_queued_tokens = max_queued_tokens;
    if (health_stall_seconds >= 0) config.health_stall_seconds = health_stall_seconds;
    if (token_budget >= 0) config.token_budget = token_budget;
    if (max_num_seqs >= 0) {
      if (max_num_seqs < 1) return Status::InvalidArgument("--max-num-seqs must be at least 1");
      config.max_num_seqs = max_num_seqs;
    }
    if (target_step_ms >= 0) {
      if (target_step_ms == 0) return Status::InvalidArgument("--target-step-ms must be positive");
      config.target_step_ms = target_step_ms;
    }
    if (no_chunked_prefill) config.chunked_prefill = false;
    for (const std::string& m : model_flags) HEARTH_RETURN_IF_ERROR(daemon::AddModelFlag(m, &config));
    if (!etcd.empty()) config.cluster_etcd = daemon::SplitList(etcd);
    if (!node_name.empty()) config.cluster_node_name = node_name;
    if (!advertise.empty()) config.cluster_advertise = advertise;
    if (!instance.empty()) config.cluster_instance = instance;
    if (price_per_hour >= 0) config.cluster_price_per_hour = price_per_hour;
    HEARTH_RETURN_IF_ERROR(daemon::ValidateCluster(&config));
    LogLevel level;
    if (!ParseLogLevel(config.log_level, &level)) {
      return Status::InvalidArgument("unknown log level '" + config.log_level + "'");
    }
    return config;
  };
  StatusOr<daemon::Config> loaded = load_config();
  if (!loaded.ok()) return fail(loaded.status());
  daemon::Config config = std::move(loaded).value();
  LogLevel level;
  ParseLogLevel(config.log_level, &level);
  SetLogLevel(level);

  // Block the shutdown signals in every thread; the main thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  RaiseFileLimit();

  daemon::Daemon d(config);
  d.SetConfigLoader(load_config);
  Status st = d.Start();
  if (!st.ok()) {
    d.Stop();
    return fail(st);
  }
  daemon::SystemdNotifier notifier;
  notifier.Ready("serving on " + config.listen.ToString(), [&d] { return d.Liveness(); });
  for (;;) {
    // Wakes every 100 ms to see whether a preemption notice wants hearthd gone (exit 0, as on
    // SIGTERM: open requests resume on the next start).
    const timespec tick{0, 100 * 1000 * 1000};
    const int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig < 0) {
      if (!d.exit_requested()) continue;
      LogInfo("shutting down").Kv("reason", "preemption notice");
      break;
    }
    if (sig == SIGHUP) {
      StatusOr<daemon::ReloadReport> report = d.Reload();  // logs what it applied
      if (!report.ok()) LogError("SIGHUP: configuration not reloaded").Kv("error", report.status().ToString());
      continue;
    }
    LogInfo("shutting down").Kv("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  notifier.Stopping();
  d.Stop();
  LogInfo("hearthd stopped");
  return 0;
}
