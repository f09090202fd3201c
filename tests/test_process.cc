#include "tests/test_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/model_path.h"

namespace hearth::testing {

std::string BinaryPath(const std::string& name) {
  const char* dir = std::getenv("HEARTH_BINARY_DIR");
  std::string base = dir ? dir : ".";
  return base + "/bin/" + name;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string TempDir() {
  char tmpl[] = "/tmp/hearth-test-XXXXXX";
  return ::mkdtemp(tmpl) ? std::string(tmpl) : std::string("/tmp");
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const std::string& log_path) : log_path_(log_path) {
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (std::string& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void ChildProcess::Signal(int sig) { ::kill(pid_, sig); }

std::optional<int> ChildProcess::Wait(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      return status;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string ChildProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RunResult RunCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  std::string cmd;
  for (const std::string& e : env) cmd += e + " ";
  for (const std::string& a : argv) cmd += "'" + a + "' ";
  cmd += "2>/dev/null";
  RunResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = ::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

HttpResult HttpGet(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2, 0);
  auto res = client.Get(path.c_str());
  if (!res) return {};
  return {res->status, res->body};
}

bool WaitHealthy(int port, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (HttpGet(port, "/healthz").status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool ProcessAlive(pid_t pid) { return ::kill(pid, 0) == 0; }

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

namespace {

std::vector<std::string> HearthdArgs(const std::string& dir, int port, int admin_port,
                                     const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {BinaryPath("hearthd"), "--config", dir + "/hearth.toml", "--listen",
                                   "127.0.0.1:" + std::to_string(port), "--admin-listen",
                                   "127.0.0.1:" + std::to_string(admin_port), "--data-dir", dir + "/data", "--threads",
                                   "2", "--model", "smollm2=" + DefaultModelPath()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

}  // namespace

// Every hearthd a test starts inherits the cluster token, so that nodes of one test's cluster
// trust each other (a cluster node refuses to start without one).
void SetClusterTokenOnce() {
  if (!std::getenv("HEARTH_CLUSTER_TOKEN")) ::setenv("HEARTH_CLUSTER_TOKEN", "test-cluster-token-0123456789", 0);
}

HearthdProcess::HearthdProcess(const std::string& dir, int port, int admin_port, const std::vector<std::string>& extra)
    : process_((SetClusterTokenOnce(), HearthdArgs(dir, port, admin_port, extra)), dir + "/hearthd.log"),
      healthy_(WaitHealthy(port, 120000)) {}

std::string FinalRequestText(int port, const std::string& id) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(60, 0);
  for (int k = 0; k < 6000; ++k) {
    auto r = cli.Get(("/v1/requests/" + id).c_str());
    if (r && r->status == 200) {
      rapidjson::Document d;
      d.Parse(r->body.c_str(), r->body.size());
      const std::string state = d.HasParseError() || !d.HasMember("state") ? "" : d["state"].GetString();
      if (state == "finished") return d["text"].GetString();
      if (state != "queued" && state != "running" && state != "loading") {
        return "<" + state + ": " + (d.HasMember("error") && d["error"].IsString() ? d["error"].GetString() : "") + ">";
      }
    } else if (r && r->status == 404) {
      return "<not found>";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return "<timed out>";
}

}  // namespace hearth::testing

namespace hearth::testing {

EtcdProcess::EtcdProcess(const std::string& dir) : dir_(dir), port_(FreePort()), peer_port_(FreePort()) {}

bool EtcdProcess::available() { return RunCommand({"/bin/sh", "-c", "command -v etcd"}).exit_code == 0; }

bool EtcdProcess::Start() {
  const std::string client = "http://127.0.0.1:" + std::to_string(port_);
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/env", "etcd", "--name", "test", "--data-dir", dir_ + "/etcd",
                               "--listen-client-urls", client, "--advertise-client-urls", client,
                               "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                               "--initial-cluster", "test=" + peer, "--log-level", "warn"},
      dir_ + "/etcd.log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    HttpResult r = HttpGet(port_, "/health");
    if (r.status == 200 && r.body.find("true") != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

void EtcdProcess::Stop() {
  if (!process_) return;
  process_->Signal(SIGKILL);
  process_->Wait(10000);
  process_.reset();
}

}  // namespace hearth::testing
