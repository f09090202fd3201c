// Every hearthctl subcommand against a real hearthd serving SmolLM2, with
// the admin token set: human output and --json (parsed), exit codes, and the
// daemon-down case.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/model_path.h"
#include "tests/test_process.h"

namespace hearth::testing {
namespace {

class HearthctlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!DefaultModelPresent()) return;
    dir_ = new std::string(TempDir());
    port_ = FreePort();
    admin_port_ = FreePort();
    ::setenv("HEARTH_ADMIN_TOKEN", "s3cret", 1);
    daemon_ = new ChildProcess({BinaryPath("hearthd"), "--listen", "127.0.0.1:" + std::to_string(port_),
                                "--admin-listen", "127.0.0.1:" + std::to_string(admin_port_), "--data-dir",
                                *dir_ + "/data", "--config", "", "--threads", "2", "--model",
                                "smollm2=" + DefaultModelPath()},
                               *dir_ + "/hearthd.log");
    ::unsetenv("HEARTH_ADMIN_TOKEN");
    for (int i = 0; i < 600 && HttpGet(port_, "/readyz").status != 200; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
    if (dir_) std::filesystem::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!DefaultModelPresent()) GTEST_SKIP() << "no model at " << DefaultModelPath();
    ASSERT_EQ(HttpGet(port_, "/readyz").status, 200) << daemon_->Log();
  }

  // hearthctl with the admin URL and token.
  static RunResult Ctl(std::vector<std::string> args, std::string token = "s3cret") {
    std::vector<std::string> argv = {BinaryPath("hearthctl"), "--url",
                                     "http://127.0.0.1:" + std::to_string(admin_port_)};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, {"HEARTH_ADMIN_TOKEN=" + token, "HEARTH_CONFIG=/nonexistent"});
  }
  // hearthctl with the admin token but no --url first: `args` place it. Stdout and stderr together.
  static RunResult CtlWithStderr(const std::vector<std::string>& args, const std::string& token = "s3cret") {
    std::string line = BinaryPath("hearthctl");
    for (const std::string& a : args) line += " '" + a + "'";
    return RunCommand({"/bin/sh", "-c", line + " 2>&1"}, {"HEARTH_ADMIN_TOKEN=" + token, "HEARTH_CONFIG=/nonexistent"});
  }
  static std::string AdminUrl() { return "http://127.0.0.1:" + std::to_string(admin_port_); }
  static rapidjson::Document Json(const RunResult& r) {
    rapidjson::Document d;
    d.Parse(r.out.c_str());
    EXPECT_FALSE(d.HasParseError()) << r.out;
    return d;
  }

  static std::string* dir_;
  static int port_, admin_port_;
  static ChildProcess* daemon_;
};

std::string* HearthctlTest::dir_ = nullptr;
int HearthctlTest::port_ = 0;
int HearthctlTest::admin_port_ = 0;
ChildProcess* HearthctlTest::daemon_ = nullptr;

TEST_F(HearthctlTest, StatusWorkersModels) {
  RunResult status = Ctl({"status"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.out.find("smollm2"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("KV_BLOCKS"), std::string::npos) << status.out;  // each model's KV use
  rapidjson::Document d = Json(Ctl({"--json", "status"}));
  ASSERT_TRUE(d.IsObject() && d.HasMember("workers"));
  EXPECT_EQ(d["workers"].Size(), 1u);
  ASSERT_TRUE(d["models"].IsArray() && d["models"].Size() > 0);
  EXPECT_GT(d["models"][0]["kv_blocks_total"].GetInt64(), 0) << "the warm model's KV blocks";
  EXPECT_TRUE(d["models"][0]["queued"].IsInt64());

  RunResult workers = Ctl({"workers"});
  EXPECT_EQ(workers.exit_code, 0);
  EXPECT_NE(workers.out.find("WORKER"), std::string::npos);
  EXPECT_NE(workers.out.find("cpu"), std::string::npos) << workers.out;

  RunResult models = Ctl({"models"});
  EXPECT_EQ(models.exit_code, 0);
  EXPECT_NE(models.out.find("smollm2"), std::string::npos) << models.out;
  EXPECT_NE(models.out.find("  PLAN  "), std::string::npos) << models.out;
  EXPECT_NE(models.out.find("  PRED  "), std::string::npos) << models.out;
  d = Json(Ctl({"--json", "models", "list"}));
  ASSERT_TRUE(d.IsObject() && d.HasMember("data") && d["data"].Size() == 1);
  EXPECT_STREQ(d["data"][0]["name"].GetString(), "smollm2");
  // A file that is not there, a model that is not registered: a clear error and exit 1.
  EXPECT_EQ(Ctl({"models", "load", "other", "/nonexistent.gguf"}).exit_code, 1);
  EXPECT_EQ(Ctl({"models", "unload", "nosuchmodel"}).exit_code, 1);
}

// Options after the command, as kubectl and systemctl take them; --json of what each shows.
TEST_F(HearthctlTest, OptionsAfterTheCommandAndJsonOfWhatIsShown) {
  rapidjson::Document d = Json(Ctl({"status", "--json"}));
  ASSERT_TRUE(d.IsObject() && d.HasMember("draining") && d["draining"].IsBool());
  EXPECT_FALSE(d["draining"].GetBool());
  ASSERT_TRUE(d.HasMember("engine") && d["engine"].IsObject());
  EXPECT_GT(d["engine"]["kv_blocks_total"].GetInt64(), 0);
  d = Json(CtlWithStderr({"status", "--json", "--url", AdminUrl()}));
  ASSERT_TRUE(d.IsObject() && d.HasMember("workers"));
  d = Json(Ctl({"models", "list", "--json"}));
  ASSERT_TRUE(d.IsObject() && d.HasMember("data") && d["data"].Size() == 1);
  EXPECT_STREQ(d["data"][0]["name"].GetString(), "smollm2");
  // The forecast and prewarm keys pass through (docs/operating.md).
  for (const char* key : {"predicted_avg", "predicted_peak", "observed_avg", "observed_peak", "score", "planned_state",
                          "batch_size", "prewarm_actions", "prewarm_hits", "prewarm_waste"}) {
    EXPECT_TRUE(d["data"][0].HasMember(key)) << key;
  }
  d = Json(Ctl({"workers", "--json"}));
  ASSERT_TRUE(d.IsArray() && d.Size() == 1u);
  EXPECT_STREQ(d[0]["backend"].GetString(), "cpu");

  // The status text says whether it admits requests, the queue and the KV blocks in use.
  RunResult status = Ctl({"status"});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.out.find("accepting requests\n"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find(" queued, "), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("kv blocks: "), std::string::npos) << status.out;
}

TEST(HearthctlVersionTest, VersionNeedsNoCommandNorDaemon) {
  RunResult version = RunCommand({BinaryPath("hearthctl"), "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("hearthctl ", 0), 0u) << version.out;
  EXPECT_GT(version.out.size(), std::string("hearthctl \n").size());
}

// Run-time model management (docs/models.md): the same file under a second name.
TEST_F(HearthctlTest, ModelsAddUnloadRunPinRemove) {
  RunResult add = Ctl({"models", "add", "smol2", DefaultModelPath(), "--pin"});
  ASSERT_EQ(add.exit_code, 0) << add.out << daemon_->Log();
  EXPECT_EQ(add.out, "smol2: warm, pinned\n");
  // smol2's entry in `models --json` (the list is sorted by name).
  auto smol2 = [](const rapidjson::Document& list) -> const rapidjson::Value& {
    EXPECT_TRUE(list.IsObject() && list.HasMember("data") && list["data"].Size() == 2);
    return list["data"][0];
  };
  rapidjson::Document d = Json(Ctl({"--json", "models", "list"}));
  ASSERT_TRUE(d.IsObject() && d.HasMember("data") && d["data"].Size() == 2);
  EXPECT_STREQ(smol2(d)["name"].GetString(), "smol2");
  EXPECT_STREQ(smol2(d)["state"].GetString(), "warm");
  EXPECT_TRUE(smol2(d)["pinned"].GetBool());

  EXPECT_EQ(Ctl({"models", "unload", "smol2"}).out, "smol2: registered, pinned\n");
  RunResult table = Ctl({"models"});
  EXPECT_NE(table.out.find("registered"), std::string::npos) << table.out;  // smollm2 stays warm
  // A request for it loads it again while it waits.
  EXPECT_EQ(Ctl({"run", "smol2", "Hi", "--max-tokens", "2"}).exit_code, 0);
  d = Json(Ctl({"--json", "models", "list"}));
  ASSERT_TRUE(d.IsObject() && d.HasMember("data") && d["data"].Size() == 2);
  EXPECT_STREQ(smol2(d)["state"].GetString(), "warm");
  EXPECT_EQ(smol2(d)["loads"].GetInt(), 2);

  // This daemon has no staged budget: staging is refused, and the model stays warm.
  EXPECT_EQ(Ctl({"models", "stage", "smol2"}).exit_code, 1);
  d = Json(Ctl({"--json", "models", "list"}));
  EXPECT_STREQ(smol2(d)["state"].GetString(), "warm");
  EXPECT_EQ(Ctl({"models", "unpin", "smol2"}).out, "smol2: warm\n");
  EXPECT_EQ(Ctl({"models", "pin", "smol2"}).exit_code, 0);
  RunResult removed = Ctl({"models", "remove", "smol2"});
  EXPECT_EQ(removed.exit_code, 0);
  EXPECT_EQ(removed.out, "smol2: removed\n") << "text, not the daemon's JSON";
  EXPECT_EQ(Json(Ctl({"--json", "models", "list"}))["data"].Size(), 1u);
  EXPECT_EQ(Ctl({"models", "remove", "smol2"}).exit_code, 1);
  EXPECT_EQ(Ctl({"models", "add", "bad", "/etc/hostname"}).exit_code, 1);  // 400: not a GGUF file
  EXPECT_EQ(Ctl({"models", "add", "bad name", DefaultModelPath()}).exit_code, 1);
}

TEST_F(HearthctlTest, RunThenShowAndFollowTheRequest) {
  RunResult run = Ctl({"run", "smollm2", "What is the capital of France?", "--max-tokens", "12", "--temperature", "0"});
  ASSERT_EQ(run.exit_code, 0);
  ASSERT_FALSE(run.out.empty());

  rapidjson::Document list = Json(Ctl({"--json", "requests", "list", "--state", "finished", "--limit", "1"}));
  ASSERT_TRUE(list.IsObject() && list["data"].Size() == 1);
  const std::string id = list["data"][0]["id"].GetString();
  RunResult table = Ctl({"requests"});
  EXPECT_NE(table.out.find(id), std::string::npos) << table.out;

  rapidjson::Document shown = Json(Ctl({"--json", "requests", "show", id}));
  ASSERT_TRUE(shown.IsObject() && shown.HasMember("text"));
  const std::string text = shown["text"].GetString();
  EXPECT_EQ(run.out, text + "\n");  // run printed exactly the generated text
  RunResult human = Ctl({"requests", "show", id});
  EXPECT_NE(human.out.find("state: finished"), std::string::npos) << human.out;

  RunResult follow = Ctl({"requests", "follow", id});
  EXPECT_EQ(follow.exit_code, 0);
  EXPECT_EQ(follow.out, text + "\n");
  EXPECT_EQ(Ctl({"requests", "show", "999999999"}).exit_code, 1);

  // The id the response carried (run asks for a chat completion) works as well as the number.
  rapidjson::Document by_response_id = Json(Ctl({"requests", "show", "chatcmpl-" + id, "--json"}));
  ASSERT_TRUE(by_response_id.IsObject() && by_response_id.HasMember("text"));
  EXPECT_EQ(by_response_id["text"].GetString(), text);
  RunResult cmpl = Ctl({"requests", "show", "cmpl-" + id});
  EXPECT_EQ(cmpl.exit_code, 0);
  EXPECT_NE(cmpl.out.find("state: finished"), std::string::npos) << cmpl.out;
  EXPECT_EQ(Ctl({"requests", "follow", "chatcmpl-" + id}).out, text + "\n");
  EXPECT_EQ(Ctl({"requests", "show", "chat-" + id}).exit_code, 2) << "not a request id";
}

TEST_F(HearthctlTest, InteractiveChatFromStdin) {
  RunResult chat = RunCommand({"/bin/sh", "-c",
                               "printf \"Hello\\n/bye\\nnever sent\\n\" | " + BinaryPath("hearthctl") +
                                   " --url http://127.0.0.1:" + std::to_string(admin_port_) +
                                   " run smollm2 --max-tokens 6 --temperature 0"},
                              {"HEARTH_ADMIN_TOKEN=s3cret"});
  EXPECT_EQ(chat.exit_code, 0);
  EXPECT_FALSE(chat.out.empty());
  rapidjson::Document list = Json(Ctl({"--json", "requests", "list", "--limit", "1"}));
  ASSERT_TRUE(list.IsObject() && list["data"].Size() == 1);
  EXPECT_EQ(list["data"][0]["completion_tokens"].GetInt(), 6);  // the one answer, not "never sent"
}

TEST_F(HearthctlTest, CancelARunningRequest) {
  ::setenv("HEARTH_ADMIN_TOKEN", "s3cret", 1);
  ChildProcess long_run({BinaryPath("hearthctl"), "--url", "http://127.0.0.1:" + std::to_string(admin_port_), "run",
                         "smollm2", "Write a very long story.", "--max-tokens", "4000"},
                        *dir_ + "/run.log");
  ::unsetenv("HEARTH_ADMIN_TOKEN");
  std::string id;
  for (int i = 0; i < 300 && id.empty(); ++i) {
    rapidjson::Document d = Json(Ctl({"--json", "requests", "list", "--state", "running"}));
    if (d.IsObject() && d.HasMember("data") && d["data"].Size() > 0) id = d["data"][0]["id"].GetString();
    else std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(id.empty()) << "the long request never showed as running";
  RunResult cancel = Ctl({"--json", "requests", "cancel", id});
  EXPECT_EQ(cancel.exit_code, 0);
  rapidjson::Document d = Json(cancel);
  ASSERT_TRUE(d.IsObject() && d.HasMember("state"));
  EXPECT_STREQ(d["state"].GetString(), "cancelled");
  std::optional<int> status = long_run.Wait(10000);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(WEXITSTATUS(*status), 1) << "the cancelled run must not exit 0";
}

TEST_F(HearthctlTest, DrainResumeReloadMetrics) {
  RunResult drain = Ctl({"drain"});
  EXPECT_EQ(drain.exit_code, 0);
  EXPECT_NE(drain.out.find("draining"), std::string::npos) << drain.out;
  EXPECT_EQ(Ctl({"run", "smollm2", "Hi", "--max-tokens", "2"}).exit_code, 1);  // 503 while draining
  EXPECT_NE(Ctl({"status"}).out.find("draining: new requests get 503\n"), std::string::npos);
  EXPECT_TRUE(Json(Ctl({"status", "--json"}))["draining"].GetBool());
  rapidjson::Document d = Json(Ctl({"--json", "drain", "--resume"}));
  ASSERT_TRUE(d.IsObject() && d.HasMember("draining"));
  EXPECT_FALSE(d["draining"].GetBool());
  EXPECT_EQ(Ctl({"run", "smollm2", "Hi", "--max-tokens", "2"}).exit_code, 0);

  d = Json(Ctl({"--json", "reload"}));
  ASSERT_TRUE(d.IsObject() && d.HasMember("applied") && d.HasMember("restart_required"));
  EXPECT_EQ(Ctl({"reload"}).exit_code, 0);

  RunResult metrics = Ctl({"metrics"});
  EXPECT_EQ(metrics.exit_code, 0);
  EXPECT_NE(metrics.out.find("requests: "), std::string::npos) << metrics.out;
  EXPECT_NE(metrics.out.find("ttft"), std::string::npos) << metrics.out;
  EXPECT_NE(Ctl({"--json", "metrics"}).out.find("hearth_generated_tokens_total"), std::string::npos);
  // --json: the summarized figures as one JSON object, not the Prometheus text.
  d = Json(Ctl({"metrics", "--json"}));
  ASSERT_TRUE(d.IsObject());
  EXPECT_GE(d["hearth_generated_tokens_total"].GetInt64(), 2);
  EXPECT_GE(d["hearth_requests_total"]["ok"].GetInt64(), 1);
  EXPECT_GE(d["hearth_time_to_first_token_seconds"]["count"].GetInt64(), 1);
  EXPECT_TRUE(d["hearth_time_to_first_token_seconds"]["p50"].IsNumber());
}

TEST_F(HearthctlTest, WrongTokenAndDaemonDown) {
  EXPECT_EQ(Ctl({"status"}, "wrong").exit_code, 1);
  RunResult down = RunCommand({BinaryPath("hearthctl"), "--url", "http://127.0.0.1:1", "status"});
  EXPECT_EQ(down.exit_code, 3);
  EXPECT_EQ(RunCommand({BinaryPath("hearthctl"), "--url", "http://127.0.0.1:1", "requests", "list"}).exit_code, 3);
  EXPECT_EQ(RunCommand({BinaryPath("hearthctl"), "nosuchcommand"}).exit_code, 2);
}

// Errors say what to do: which setting a refused token is about, which listener --url points at.
TEST_F(HearthctlTest, ErrorsNameTheSettingAndTheListener) {
  RunResult wrong = CtlWithStderr({"status", "--url", AdminUrl()}, "wrong");
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.out.find("HEARTH_ADMIN_TOKEN"), std::string::npos) << wrong.out;
  EXPECT_NE(wrong.out.find("admin_token"), std::string::npos) << wrong.out;
  RunResult api_port = CtlWithStderr({"status", "--url", "http://127.0.0.1:" + std::to_string(port_)});
  EXPECT_EQ(api_port.exit_code, 1);
  EXPECT_NE(api_port.out.find("API listener, not the admin one"), std::string::npos) << api_port.out;
  RunResult run_at_admin = CtlWithStderr({"--url", AdminUrl(), "run", "smollm2", "Hi", "--api-url", AdminUrl()});
  EXPECT_EQ(run_at_admin.exit_code, 1);
  EXPECT_NE(run_at_admin.out.find("admin listener, not the API one"), std::string::npos) << run_at_admin.out;
}

}  // namespace
}  // namespace hearth::testing
