// hearthd as a real process: listens, spawns its worker, answers, and exits
// cleanly on SIGTERM and SIGINT leaving no worker behind.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>

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

}  // namespace
}  // namespace hearth::testing
