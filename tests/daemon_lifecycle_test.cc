// hearthd as a real process: listens, spawns its worker, answers, and exits
// cleanly on SIGTERM and SIGINT leaving no worker behind.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "tests/model_path.h"
#include "tests/test_process.h"

namespace hearth::testing {
namespace {

class DaemonLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir();
    port_ = FreePort();
    admin_port_ = FreePort();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<ChildProcess> StartDaemon(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {BinaryPath("hearthd"), "--listen", "127.0.0.1:" + std::to_string(port_),
                                     "--admin-listen", "127.0.0.1:" + std::to_string(admin_port_),
                                     "--data-dir", dir_ + "/data", "--config", ""};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<ChildProcess>(argv, dir_ + "/hearthd.log");
  }

  // The worker's pid from the admin status document.
  int WorkerPid() {
    HttpResult r = HttpGet(admin_port_, "/admin/v1/status");
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    if (d.HasParseError() || !d.HasMember("workers") || d["workers"].Empty()) return -1;
    return d["workers"][0]["pid"].GetInt();
  }

  std::string dir_;
  int port_ = 0;
  int admin_port_ = 0;
};

TEST_F(DaemonLifecycleTest, ServesHealthModelsAndStatus) {
  auto d = StartDaemon();
  ASSERT_TRUE(WaitHealthy(port_, 10000)) << d->Log();
  HttpResult models = HttpGet(port_, "/v1/models");
  EXPECT_EQ(models.status, 200);
  rapidjson::Document doc;
  doc.Parse(models.body.c_str());
  ASSERT_FALSE(doc.HasParseError());
  EXPECT_STREQ(doc["object"].GetString(), "list");

  HttpResult status = HttpGet(admin_port_, "/admin/v1/status");
  ASSERT_EQ(status.status, 200);
  doc.Parse(status.body.c_str());
  ASSERT_FALSE(doc.HasParseError());
  ASSERT_EQ(doc["workers"].Size(), 1u);
  EXPECT_TRUE(doc["workers"][0]["alive"].GetBool());
  EXPECT_STREQ(doc["workers"][0]["backend"].GetString(), "cpu");

  // Unknown routes get an OpenAI-style 404, not an empty body.
  HttpResult missing = HttpGet(port_, "/v1/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("\"error\""), std::string::npos);
}

void ExpectCleanExitOn(DaemonLifecycleTest* t, ChildProcess* d, int sig, int worker_pid) {
  (void)t;
  ASSERT_GT(worker_pid, 0);
  ASSERT_TRUE(ProcessAlive(worker_pid));
  d->Signal(sig);
  std::optional<int> status = d->Wait(5000);
  ASSERT_TRUE(status.has_value()) << "hearthd did not exit within 5 s";
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0) << d->Log();
  EXPECT_FALSE(ProcessAlive(worker_pid)) << "worker left behind";
}

TEST_F(DaemonLifecycleTest, SigtermExitsZeroWithoutLeavingWorker) {
  auto d = StartDaemon();
  ASSERT_TRUE(WaitHealthy(port_, 10000)) << d->Log();
  ExpectCleanExitOn(this, d.get(), SIGTERM, WorkerPid());
}

TEST_F(DaemonLifecycleTest, SigintExitsZeroWithoutLeavingWorker) {
  auto d = StartDaemon();
  ASSERT_TRUE(WaitHealthy(port_, 10000)) << d->Log();
  ExpectCleanExitOn(this, d.get(), SIGINT, WorkerPid());
}

TEST_F(DaemonLifecycleTest, WorkerDiesWithKilledDaemon) {
  auto d = StartDaemon();
  ASSERT_TRUE(WaitHealthy(port_, 10000)) << d->Log();
  int worker = WorkerPid();
  ASSERT_GT(worker, 0);
  d->Signal(SIGKILL);
  ASSERT_TRUE(d->Wait(5000).has_value());
  for (int i = 0; i < 200 && ProcessAlive(worker); ++i) usleep(10000);
  EXPECT_FALSE(ProcessAlive(worker));
}

TEST_F(DaemonLifecycleTest, MissingModelFileFailsClearly) {
  auto d = StartDaemon({"--model", "ghost=/no/such/model.gguf"});
  std::optional<int> status = d->Wait(10000);
  ASSERT_TRUE(status.has_value());
  EXPECT_NE(WEXITSTATUS(*status), 0);
  EXPECT_NE(d->Log().find("/no/such/model.gguf"), std::string::npos) << d->Log();
}

TEST_F(DaemonLifecycleTest, HearthctlStatusAndDaemonDown) {
  std::string url = "http://127.0.0.1:" + std::to_string(admin_port_);
  RunResult down = RunCommand({BinaryPath("hearthctl"), "--url", url, "status"});
  EXPECT_EQ(down.exit_code, 3);

  auto d = StartDaemon();
  ASSERT_TRUE(WaitHealthy(port_, 10000)) << d->Log();
  RunResult up = RunCommand({BinaryPath("hearthctl"), "--url", url, "status"});
  EXPECT_EQ(up.exit_code, 0);
  EXPECT_NE(up.out.find("WORKER"), std::string::npos) << up.out;
  EXPECT_NE(up.out.find("cpu"), std::string::npos) << up.out;

  RunResult json = RunCommand({BinaryPath("hearthctl"), "--json", "status"}, {"HEARTH_URL=" + url});
  EXPECT_EQ(json.exit_code, 0);
  rapidjson::Document doc;
  doc.Parse(json.out.c_str());
  ASSERT_FALSE(doc.HasParseError()) << json.out;
  EXPECT_EQ(doc["workers"].Size(), 1u);
}

TEST_F(DaemonLifecycleTest, VersionExitsZero) {
  RunResult r = RunCommand({BinaryPath("hearthd"), "--version"});
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("hearthd ", 0), 0u) << r.out;
}

// A port in use fails in under a second, before the store, a worker or a model load: hearthd
// binds both ports first. Each port in turn.
TEST_F(DaemonLifecycleTest, TakenPortFailsAtOnceWithNoModelLoaded) {
  for (int taken : {port_, admin_port_}) {
    const int holder = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(taken));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(holder, 4), 0);
    const auto start = std::chrono::steady_clock::now();
    // A model that exists (when the test model is present): the check is that it is not loaded.
    auto d = StartDaemon({"--model", "smollm2=" + DefaultModelPath()});
    std::optional<int> status = d->Wait(5000);
    const auto took = std::chrono::steady_clock::now() - start;
    ::close(holder);
    ASSERT_TRUE(status.has_value()) << d->Log();
    EXPECT_NE(WEXITSTATUS(*status), 0) << d->Log();
    EXPECT_LT(took, std::chrono::seconds(1)) << d->Log();
    const std::string log = d->Log();
    EXPECT_NE(log.find("cannot listen on 127.0.0.1:" + std::to_string(taken)), std::string::npos) << log;
    for (const char* slow : {"store opened", "worker started", "model load started", "model loaded"}) {
      EXPECT_EQ(log.find(slow), std::string::npos) << slow << " before the port check:\n" << log;
    }
  }
}

// Every response carries X-Request-Id (docs/api.md), whatever answers it; GET on a POST route
// is 405 with Allow, in the OpenAI error format.
TEST_F(DaemonLifecycleTest, EveryResponseHasARequestIdAndGetOnPostRoutesIs405) {
  auto d = StartDaemon();
  ASSERT_TRUE(WaitHealthy(port_, 10000)) << d->Log();
  struct Probe {
    int port;
    const char* method;
    const char* path;
    int status;
  };
  for (const Probe& p : std::vector<Probe>{{port_, "GET", "/v1/models", 200},
                                           {port_, "GET", "/healthz", 200},
                                           {port_, "GET", "/health", 200},
                                           {port_, "GET", "/metrics", 200},
                                           {port_, "GET", "/readyz", 503},  // no model loaded
                                           {port_, "GET", "/v1/nope", 404},
                                           {port_, "GET", "/v1/chat/completions", 405},
                                           {port_, "GET", "/v1/completions", 405},
                                           {port_, "POST", "/v1/models", 405},
                                           {port_, "GET", "/v1/requests/cmpl-12345", 404},
                                           {admin_port_, "GET", "/admin/v1/status", 200},
                                           {admin_port_, "GET", "/metrics", 200},
                                           {admin_port_, "GET", "/healthz", 200}}) {
    httplib::Client cli("127.0.0.1", p.port);
    auto r = std::string(p.method) == "GET" ? cli.Get(p.path) : cli.Post(p.path, "{}", "application/json");
    ASSERT_TRUE(r) << p.method << " " << p.path;
    EXPECT_EQ(r->status, p.status) << p.method << " " << p.path << " " << r->body;
    EXPECT_FALSE(r->get_header_value("X-Request-Id").empty()) << p.method << " " << p.path;
    if (p.status == 405) {
      EXPECT_NE(r->get_header_value("Allow").find(std::string(p.method) == "GET" ? "POST" : "GET"), std::string::npos)
          << p.path;
      rapidjson::Document doc;
      doc.Parse(r->body.c_str());
      ASSERT_FALSE(doc.HasParseError()) << r->body;
      EXPECT_TRUE(doc.HasMember("error")) << r->body;
    }
  }
}

TEST_F(DaemonLifecycleTest, MetricsCarryBuildInfoAndProcessMetrics) {
  auto d = StartDaemon();
  ASSERT_TRUE(WaitHealthy(port_, 10000)) << d->Log();
  RunResult version = RunCommand({BinaryPath("hearthd"), "--version"});
  const std::string text = HttpGet(port_, "/metrics").body;
  const std::string v = version.out.substr(8, version.out.find('\n') - 8);  // "hearthd X.Y.Z"
  EXPECT_NE(text.find("\nhearth_build_info{version=\"" + v + "\"} 1\n"), std::string::npos) << text;
  for (const char* name : {"process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
                           "process_start_time_seconds"}) {
    const size_t at = text.find(std::string("\n") + name + " ");
    ASSERT_NE(at, std::string::npos) << name;
    EXPECT_GT(std::stod(text.substr(at + std::strlen(name) + 2)), 0) << name;
  }
}

}  // namespace
}  // namespace hearth::testing
