// hearthd: the per-node Hearth daemon.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "common/log.h"
#include "daemon/daemon.h"

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

}  // namespace

int main(int argc, char** argv) {
  using namespace hearth;
  CLI::App app{"hearthd: serves LLMs over an OpenAI-compatible API"};
  std::string config_path = DefaultConfigPath();
  std::string listen, admin_listen, data_dir, log_level, worker_binary;
  std::vector<std::string> model_flags;
  int threads = -1;
  app.add_option("--config", config_path, "TOML configuration file")->capture_default_str();
  app.add_option("--listen", listen, "HOST:PORT of the API (default 127.0.0.1:8080)");
  app.add_option("--admin-listen", admin_listen, "HOST:PORT of the admin API (default 127.0.0.1:8081)");
  app.add_option("--data-dir", data_dir, "directory for the database (default ~/.local/share/hearth)");
  app.add_option("--model", model_flags, "serve a model: NAME=PATH (repeatable)");
  app.add_option("--worker-binary", worker_binary, "path of hearth-worker (default: beside hearthd)");
  app.add_option("--threads", threads, "CPU threads per worker (default: all cores)");
  app.add_option("--log-level", log_level, "debug, info, warn or error");
  CLI11_PARSE(app, argc, argv);

  daemon::Config config;
  auto fail = [](const Status& st) {
    LogError("hearthd failed").Kv("error", st.ToString());
    return 1;
  };
  if (!config_path.empty()) {
    Status st = daemon::LoadConfigFile(config_path, &config);
    if (!st.ok()) return fail(st.WithContext("config"));
  }
  if (!listen.empty()) {
    auto hp = daemon::ParseHostPort(listen);
    if (!hp.ok()) return fail(hp.status());
    config.listen = *hp;
  }
  if (!admin_listen.empty()) {
    auto hp = daemon::ParseHostPort(admin_listen);
    if (!hp.ok()) return fail(hp.status());
    config.admin_listen = *hp;
  }
  if (!data_dir.empty()) config.data_dir = data_dir;
  if (config.data_dir.empty()) config.data_dir = DefaultDataDir();
  if (!worker_binary.empty()) config.worker_binary = worker_binary;
  if (threads >= 0) config.worker_threads = threads;
  if (!log_level.empty()) config.log_level = log_level;
  for (const std::string& m : model_flags) {
    Status st = daemon::AddModelFlag(m, &config);
    if (!st.ok()) return fail(st);
  }
  LogLevel level;
  if (!ParseLogLevel(config.log_level, &level)) {
    return fail(Status::InvalidArgument("unknown log level '" + config.log_level + "'"));
  }
  SetLogLevel(level);

  // Block the shutdown signals in every thread; the main thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  daemon::Daemon d(config);
  Status st = d.Start();
  if (!st.ok()) {
    d.Stop();
    return fail(st);
  }
  for (;;) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGHUP) {
      LogInfo("SIGHUP: configuration reload is not implemented yet; ignoring");
      continue;
    }
    LogInfo("shutting down").Kv("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    break;
  }
  d.Stop();
  LogInfo("hearthd stopped");
  return 0;
}
