// A request for a model that is not warm is accepted at once and waits in its model's queue
// (state "loading") while a thread of hearthd's loads the model through the engine loop; no
// HTTP thread waits for the worker. Loads are made slow with the worker's test hook
// (HEARTH_TEST_READ_DELAY_MS, a sleep after each 16 MiB read). While two cold models load:
// /healthz and `hearthctl status` answer promptly, a cold request's status reads "loading", a
// streamed request to the warm model on the same worker gets its first token at once and ends
// before the cold requests do (the worker reads the files on a loader thread and steps meanwhile),
// and both cold requests complete with the text the warm model gives for the same seed.
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/model_path.h"
#include "tests/test_process.h"

namespace hearth::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

rapidjson::Document Json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  return d;
}

std::string Body(const std::string& model, bool stream) {
  return "{\"model\":\"" + model + "\",\"prompt\":\"The lighthouse keeper wrote\",\"max_tokens\":12," +
         "\"temperature\":0.7,\"seed\":42,\"stream\":" + (stream ? "true" : "false") + "}";
}

double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

class ColdStartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!DefaultModelPresent()) GTEST_SKIP() << "no model at " << DefaultModelPath();
    dir_ = TempDir();
    port_ = FreePort();
    admin_port_ = FreePort();
    std::ofstream(dir_ + "/hearth.toml") << "[scheduler]\ntoken_budget = 128\n";  // no profile at each load
    // Inherited by hearthd and its worker: every load reads 16 MiB, then sleeps this long.
    ::setenv("HEARTH_TEST_READ_DELAY_MS", "700", 1);
    daemon_ = std::make_unique<HearthdProcess>(dir_, port_, admin_port_);
    ::unsetenv("HEARTH_TEST_READ_DELAY_MS");
  }

  httplib::Result Admin(const std::string& path, const std::string& body) {
    httplib::Client c("127.0.0.1", admin_port_);
    c.set_read_timeout(300, 0);
    return c.Post(path, body, "application/json");
  }

  std::string dir_;
  int port_ = 0, admin_port_ = 0;
  std::unique_ptr<HearthdProcess> daemon_;
};

TEST_F(ColdStartTest, ColdRequestsWaitInTheirModelsQueueAndNothingElseWaitsWithThem) {
  ASSERT_TRUE(daemon_->healthy()) << daemon_->process().Log();
  // Two more names for the same file, registered and then unloaded: cold, but known.
  for (const char* name : {"cold_a", "cold_b"}) {
    auto added =
        Admin("/admin/v1/models", std::string("{\"name\":\"") + name + "\",\"path\":\"" + DefaultModelPath() + "\"}");
    ASSERT_TRUE(added && added->status == 200) << (added ? added->body : "no answer");
    auto unloaded = Admin(std::string("/admin/v1/models/") + name + "/unload", "");
    ASSERT_TRUE(unloaded && unloaded->status == 200) << (unloaded ? unloaded->body : "no answer");
  }
  // What the warm model says for the seed: the cold ones (same weights) must say it too.
  httplib::Client api("127.0.0.1", port_);
  api.set_read_timeout(300, 0);
  auto warm = api.Post("/v1/completions", Body("smollm2", false), "application/json");
  ASSERT_TRUE(warm && warm->status == 200) << (warm ? warm->body : "no answer");
  const std::string reference = Json(warm->body)["choices"][0]["text"].GetString();
  ASSERT_FALSE(reference.empty());

  // cold_a streamed: its response headers, with its id, come before its model is warm.
  std::atomic<bool> headers{false};
  std::string stream_id, stream_body;
  const Clock::time_point sent = Clock::now();
  double headers_after = -1, cold_a_done = -1, cold_b_done = -1;
  std::thread streamed([&] {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(300, 0);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = Body("cold_a", true);
    req.set_header("Content-Type", "application/json");
    req.response_handler = [&](const httplib::Response& res) {
      stream_id = res.get_header_value("X-Request-Id");
      headers_after = Seconds(sent);
      headers = true;
      return true;
    };
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      stream_body.append(data, n);
      return true;
    };
    c.send(req);
    cold_a_done = Seconds(sent);
  });
  // cold_b at the same time, not streamed.
  std::string plain_status, plain_text;
  std::thread plain([&] {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(300, 0);
    auto r = c.Post("/v1/completions", Body("cold_b", false), "application/json");
    plain_status = r ? std::to_string(r->status) : "no answer";
    if (r && r->status == 200) plain_text = Json(r->body)["choices"][0]["text"].GetString();
    cold_b_done = Seconds(sent);
  });

  while (!headers && Seconds(sent) < 60) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(headers.load());
  ASSERT_FALSE(stream_id.empty());
  // A streamed request to the warm model while the cold ones load on the same worker.
  std::string warm_id, warm_body;
  double warm_first_token = -1, warm_done = -1;
  std::thread warm_stream([&] {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(300, 0);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.body = Body("smollm2", true);
    req.set_header("Content-Type", "application/json");
    const Clock::time_point warm_sent = Clock::now();
    req.response_handler = [&](const httplib::Response& res) {
      warm_id = res.get_header_value("X-Request-Id");
      return true;
    };
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      warm_body.append(data, n);
      if (warm_first_token < 0 && warm_body.find("\"text\"") != std::string::npos) {
        warm_first_token = Seconds(warm_sent);
      }
      return true;
    };
    c.send(req);
    warm_done = Seconds(sent);
  });
  // Meanwhile: the request's state, the probes and the admin CLI.
  bool saw_loading = false;
  double worst_health = 0, worst_status = 0;
  int probes = 0;
  while (Seconds(sent) < 120) {
    auto r = HttpGet(port_, "/v1/requests/" + stream_id);
    const std::string state = r.status == 200 ? Json(r.body)["state"].GetString() : "";
    if (state == "loading") saw_loading = true;
    if (state != "loading" && state != "queued") break;
    Clock::time_point t0 = Clock::now();
    EXPECT_EQ(HttpGet(port_, "/healthz").status, 200);
    worst_health = std::max(worst_health, Seconds(t0));
    t0 = Clock::now();
    RunResult status =
        RunCommand({BinaryPath("hearthctl"), "--url", "http://127.0.0.1:" + std::to_string(admin_port_), "status"});
    EXPECT_EQ(status.exit_code, 0) << status.out;
    worst_status = std::max(worst_status, Seconds(t0));
    ++probes;
    std::this_thread::sleep_for(100ms);
  }
  streamed.join();
  plain.join();
  warm_stream.join();
  std::printf(
      "cold start: headers after %.3f s; %d probes while loading, worst /healthz %.3f s, worst "
      "hearthctl status %.3f s; warm stream: first token after %.3f s, ended at %.3f s; cold "
      "requests ended at %.3f s (streamed) and %.3f s\n",
      headers_after, probes, worst_health, worst_status, warm_first_token, warm_done, cold_a_done, cold_b_done);
  EXPECT_LT(headers_after, 2.0) << "the stream's headers waited for the load";
  EXPECT_TRUE(saw_loading) << "the cold request's status never read \"loading\"";
  EXPECT_GT(probes, 0);
  // Each load sleeps about 7 x 0.7 s: a status or probe that waited for one would take seconds.
  EXPECT_LT(worst_health, 2.0);
  EXPECT_LT(worst_status, 2.0);
  // The warm model's stream did not wait for the loads: its first token came at once, and it
  // ended while both cold models were still loading.
  EXPECT_GE(warm_first_token, 0) << warm_body;
  EXPECT_LT(warm_first_token, 2.0) << "the warm model's first token waited for a load";
  EXPECT_LT(warm_done, cold_a_done) << "the warm model's stream waited for the loads";
  EXPECT_LT(warm_done, cold_b_done) << "the warm model's stream waited for the loads";
  EXPECT_NE(warm_body.find("data: [DONE]"), std::string::npos) << warm_body;
  ASSERT_FALSE(warm_id.empty());
  EXPECT_EQ(FinalRequestText(port_, warm_id), reference);
  EXPECT_EQ(plain_status, "200");
  EXPECT_EQ(plain_text, reference);
  EXPECT_EQ(FinalRequestText(port_, stream_id), reference);
  EXPECT_NE(stream_body.find("data: [DONE]"), std::string::npos) << stream_body;
  daemon_->process().Signal(SIGTERM);
  EXPECT_TRUE(daemon_->process().Wait(60000).has_value());
}

}  // namespace
}  // namespace hearth::testing
