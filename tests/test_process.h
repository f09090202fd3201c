// Helpers for integration tests that run Hearth's programs as real processes.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hearth::testing {

// Path of a built program (hearthd, hearth-worker, hearthctl).
std::string BinaryPath(const std::string& name);

// A free TCP port on 127.0.0.1 (bound and released; racy but fine on a test box).
int FreePort();

// A fresh temporary directory, removed by the caller.
std::string TempDir();

class ChildProcess {
 public:
  // Starts argv[0] with stdout+stderr sent to `log_path`.
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path);
  ~ChildProcess();  // SIGKILLs the child if it still runs.

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Exit status (as from waitpid) or nullopt if it did not exit in time.
  std::optional<int> Wait(int timeout_ms);
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  std::string log_path_;
};

// Runs a command to completion; returns its exit code and stdout.
struct RunResult {
  int exit_code = -1;
  std::string out;
};
RunResult RunCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});

// GETs http://127.0.0.1:port/path; status 0 when unreachable.
struct HttpResult {
  int status = 0;
  std::string body;
};
HttpResult HttpGet(int port, const std::string& path);

// Polls until GET /healthz answers 200 or the timeout passes.
bool WaitHealthy(int port, int timeout_ms);

bool ProcessAlive(pid_t pid);

// An integer from the environment; `fallback` when unset or empty.
int EnvInt(const char* name, int fallback);

// hearthd serving the default model as "smollm2" with 2 threads: configuration DIR/hearth.toml,
// data DIR/data, log DIR/hearthd.log. Waits up to 2 minutes for /healthz.
class HearthdProcess {
 public:
  // `extra` arguments follow the usual ones (e.g. --etcd URL --node-name NAME).
  HearthdProcess(const std::string& dir, int port, int admin_port, const std::vector<std::string>& extra = {});
  bool healthy() const { return healthy_; }
  ChildProcess& process() { return process_; }

 private:
  ChildProcess process_;
  bool healthy_ = false;
};

// etcd (Debian's etcd-server) on two free loopback ports with its data in DIR/etcd, log in
// DIR/etcd.log; waits up to 20 s for GET /health. Start() again after Stop() reuses the ports and
// the data (the cluster comes back with its keys). available() is false when no `etcd` binary
// is on the PATH: tests skip.
class EtcdProcess {
 public:
  explicit EtcdProcess(const std::string& dir);
  static bool available();
  bool Start();  // true once it answers
  void Stop();   // SIGKILL, reaped
  ChildProcess* process() { return process_.get(); }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  std::string dir_;
  int port_ = 0, peer_port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// Polls GET /v1/requests/{id} on 127.0.0.1:port until the request ended (up to 5 minutes): its
// final text, or "<STATE: error>" when it ended otherwise, "<not found>", "<timed out>".
std::string FinalRequestText(int port, const std::string& id);

}  // namespace hearth::testing
