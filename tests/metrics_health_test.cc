// /metrics, /healthz, /readyz and the queue limits of a real hearthd serving SmolLM2: the
// exposition parses, counters and histograms follow the requests made, a client that hangs up
// gives its KV blocks back, and a full queue answers 429 with Retry-After at once. Skipped when
// the model file is absent.
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/model_path.h"
#include "tests/test_process.h"

namespace hearth::testing {
namespace {

using Samples = std::map<std::string, double>;  // "name{labels}" -> value

// Parses the exposition text; every line must be a comment or a sample.
Samples ParseExposition(const std::string& text, std::string* bad_line) {
  static const std::regex kComment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*")*\})?) )"
      R"(([-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?|\+Inf|-Inf|NaN)$)");
  Samples out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_match(line, kComment)) continue;
    if (!std::regex_match(line, m, kSample)) {
      *bad_line = line;
      return {};
    }
    const std::string v = m[6];
    out[m[1]] = v == "+Inf" ? INFINITY : v == "-Inf" ? -INFINITY : v == "NaN" ? NAN : std::stod(v);
  }
  return out;
}

// The sample `key`, or, for a bare name of a labelled family, the sum of its series (one
// model here: that model's value).
double Get(const Samples& s, const std::string& key) {
  auto it = s.find(key);
  if (it != s.end()) return it->second;
  double sum = 0;
  for (auto at = s.lower_bound(key + "{"); at != s.end() && at->first.rfind(key + "{", 0) == 0; ++at) sum += at->second;
  return sum;
}

rapidjson::Document Json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  return d;
}

const std::string kModel = "smollm2";
const std::string kM = "{model=\"smollm2\"}";

class HearthdFixture {
 public:
  explicit HearthdFixture(std::vector<std::string> extra) : dir_(TempDir()), port_(FreePort()), admin_(FreePort()) {
    std::vector<std::string> argv = {BinaryPath("hearthd"),
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(port_),
                                     "--admin-listen",
                                     "127.0.0.1:" + std::to_string(admin_),
                                     "--data-dir",
                                     dir_ + "/data",
                                     "--config",
                                     "",
                                     "--threads",
                                     "2",
                                     "--model",
                                     kModel + "=" + DefaultModelPath()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process_ = std::make_unique<ChildProcess>(argv, dir_ + "/hearthd.log");
  }
  ~HearthdFixture() {
    process_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Polls /readyz until 200.
  bool WaitReady(int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 100) {
      if (HttpGet(port_, "/readyz").status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  Samples Scrape(int port = 0) {
    HttpResult r = HttpGet(port ? port : port_, "/metrics");
    EXPECT_EQ(r.status, 200);
    std::string bad;
    Samples s = ParseExposition(r.body, &bad);
    EXPECT_TRUE(bad.empty()) << "not an exposition line: '" << bad << "'";
    return s;
  }

  httplib::Result Post(const std::string& path, const std::string& body) {
    httplib::Client cli("127.0.0.1", port_);
    cli.set_read_timeout(300, 0);
    return cli.Post(path.c_str(), body, "application/json");
  }

  int port() const { return port_; }
  int admin_port() const { return admin_; }
  std::string Log() const { return process_->Log(); }

 private:
  std::string dir_;
  int port_;
  int admin_;
  std::unique_ptr<ChildProcess> process_;
};

class MetricsHealthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!DefaultModelPresent()) return;
    daemon_ = new HearthdFixture({});
    ready_ = daemon_->WaitReady(120000);
  }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
  }
  void SetUp() override {
    if (!DefaultModelPresent()) GTEST_SKIP() << "no model at " << DefaultModelPath();
    ASSERT_TRUE(ready_) << daemon_->Log();
  }

  static inline HearthdFixture* daemon_ = nullptr;
  static inline bool ready_ = false;
};

TEST_F(MetricsHealthTest, ReadyAndHealthyOnBothListeners) {
  for (int port : {daemon_->port(), daemon_->admin_port()}) {
    HttpResult ready = HttpGet(port, "/readyz");
    EXPECT_EQ(ready.status, 200);
    EXPECT_EQ(ready.body, "{\"status\":\"ok\"}");
    HttpResult healthy = HttpGet(port, "/healthz");
    EXPECT_EQ(healthy.status, 200);
    EXPECT_EQ(healthy.body, "{\"status\":\"ok\"}");
  }
}

TEST_F(MetricsHealthTest, ExpositionParsesOnBothListeners) {
  httplib::Client cli("127.0.0.1", daemon_->port());
  auto r = cli.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  for (int port : {daemon_->port(), daemon_->admin_port()}) {
    Samples s = daemon_->Scrape(port);
    EXPECT_EQ(Get(s, "hearth_workers_up"), 1);
    EXPECT_EQ(Get(s, "hearth_models_loaded"), 1);
    EXPECT_EQ(Get(s, "hearth_model_loads_total{model=\"smollm2\",status=\"ok\"}"), 1);
    EXPECT_EQ(Get(s, "hearth_model_load_seconds_count" + kM), 1);
    EXPECT_GT(Get(s, "hearth_model_load_seconds_sum" + kM), 0);
    EXPECT_GT(Get(s, "hearth_kv_blocks_capacity"), 0);
    EXPECT_EQ(Get(s, "hearth_kv_blocks_capacity"), Get(s, "hearth_kv_blocks_used") + Get(s, "hearth_kv_blocks_free"));
    EXPECT_TRUE(s.contains("hearth_worker_restarts_total"));
  }
}

TEST_F(MetricsHealthTest, CountersAndHistogramsFollowTheRequests) {
  Samples before = daemon_->Scrape();
  constexpr int kRequests = 3;
  int64_t completion_tokens = 0, prompt_tokens = 0;
  for (int i = 0; i < kRequests; ++i) {
    auto r = daemon_->Post("/v1/completions", R"({"model":"smollm2","prompt":"The capital of France is",)"
                                              R"("max_tokens":6,"temperature":0})");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    auto d = Json(r->body);
    ASSERT_TRUE(d.IsObject() && d.HasMember("usage")) << r->body;
    completion_tokens += d["usage"]["completion_tokens"].GetInt64();
    prompt_tokens += d["usage"]["prompt_tokens"].GetInt64();
  }
  Samples after = daemon_->Scrape();
  auto delta = [&](const std::string& key) { return Get(after, key) - Get(before, key); };
  EXPECT_EQ(delta("hearth_requests_total{model=\"smollm2\",status=\"ok\"}"), kRequests);
  EXPECT_EQ(delta("hearth_prompt_tokens_total" + kM), prompt_tokens);
  EXPECT_GT(delta("hearth_generated_tokens_total"), 0);
  EXPECT_LE(delta("hearth_generated_tokens_total"), completion_tokens);
  for (const char* h : {"hearth_request_queue_seconds", "hearth_time_to_first_token_seconds",
                        "hearth_time_per_output_token_seconds", "hearth_request_duration_seconds"}) {
    const std::string name = h;
    EXPECT_EQ(delta(name + "_count" + kM), kRequests) << name;
    EXPECT_EQ(Get(after, name + "_count" + kM), Get(after, name + "_bucket{model=\"smollm2\",le=\"+Inf\"}")) << name;
    EXPECT_GT(delta(name + "_sum" + kM), 0) << name;
  }
  // The same prompt three times: the later ones find its blocks in the prefix cache... if the
  // prompt fills a block at all; the counters must at least never go backwards.
  EXPECT_GE(delta("hearth_prefix_cache_queried_blocks_total"), 0);
  EXPECT_GE(delta("hearth_prefix_cache_hit_blocks_total"), 0);
  EXPECT_EQ(Get(after, "hearth_queued_requests"), 0);
  EXPECT_EQ(Get(after, "hearth_queued_prompt_tokens"), 0);
}

TEST_F(MetricsHealthTest, PrefixCacheHitsAreCounted) {
  // A prompt of several blocks, sent twice: the second finds the first one's blocks.
  std::string prompt;
  for (int i = 0; i < 40; ++i) prompt += "The quick brown fox jumps over the lazy dog. ";
  const std::string body = R"({"model":"smollm2","prompt":")" + prompt + R"(","max_tokens":2,"temperature":0})";
  Samples before = daemon_->Scrape();
  for (int i = 0; i < 2; ++i) {
    auto r = daemon_->Post("/v1/completions", body);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  Samples after = daemon_->Scrape();
  EXPECT_GT(Get(after, "hearth_prefix_cache_queried_blocks_total"),
            Get(before, "hearth_prefix_cache_queried_blocks_total"));
  EXPECT_GT(Get(after, "hearth_prefix_cache_hit_blocks_total"), Get(before, "hearth_prefix_cache_hit_blocks_total"));
  EXPECT_GT(Get(after, "hearth_prefix_cache_hit_ratio"), 0);
}

TEST_F(MetricsHealthTest, HangingUpGivesTheKvBlocksBack) {
  // Idle first: an earlier test's request may still be leaving the engine after its client got
  // the answer (its blocks are freed by the engine loop, not by the response).
  Samples idle;
  for (int i = 0; i < 1200; ++i) {
    idle = daemon_->Scrape();
    if (Get(idle, "hearth_running_sequences") == 0 && Get(idle, "hearth_waiting_sequences") == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double idle_used = Get(idle, "hearth_kv_blocks_used");
  const double cancelled_before =
      Get(daemon_->Scrape(), "hearth_requests_total{model=\"smollm2\",status=\"cancelled\"}");
  httplib::Client cli("127.0.0.1", daemon_->port());
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = R"({"model":"smollm2","messages":[{"role":"user","content":"Write a very long story"}],)"
             R"("max_tokens":4000,"stream":true})";
  req.set_header("Content-Type", "application/json");
  int chunks = 0;
  double busy_used = -1;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
    if (++chunks == 3) busy_used = Get(daemon_->Scrape(), "hearth_kv_blocks_used");
    return chunks < 4;
  };
  EXPECT_FALSE(cli.send(req));
  EXPECT_GT(busy_used, idle_used) << "the stream held no KV blocks while it ran";

  // Polled until the engine has dropped the request (a deadline for a hang, not a timing test).
  Samples s;
  for (int i = 0; i < 1200; ++i) {
    s = daemon_->Scrape();
    if (Get(s, "hearth_running_sequences") == 0 && Get(s, "hearth_kv_blocks_used") == idle_used) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(Get(s, "hearth_kv_blocks_used"), idle_used);
  EXPECT_EQ(Get(s, "hearth_requests_total{model=\"smollm2\",status=\"cancelled\"}"), cancelled_before + 1);
}

// A second daemon whose queue holds one request: of several long requests sent at once, some are
// turned away with 429 and Retry-After, immediately, and /metrics counts them.
TEST(QueueLimitTest, FullQueueAnswers429WithRetryAfter) {
  if (!DefaultModelPresent()) GTEST_SKIP() << "no model at " << DefaultModelPath();
  HearthdFixture daemon({"--max-queued-requests", "1"});
  ASSERT_TRUE(daemon.WaitReady(120000)) << daemon.Log();
  std::string prompt;
  for (int i = 0; i < 60; ++i) prompt += "Tell me about the history of bread, in detail. ";
  const std::string body = R"({"model":"smollm2","prompt":")" + prompt + R"(","max_tokens":32})";

  constexpr int kClients = 6;
  std::atomic<int> ok{0}, rejected{0}, other{0};
  std::atomic<bool> retry_after_everywhere{true}, rate_limit_type{true};
  // Rounds until one rejects (the first does, unless the requests trickle in one by one).
  for (int round = 0; round < 5 && rejected == 0; ++round) {
    std::atomic<int> at_gate{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.emplace_back([&] {
        ++at_gate;
        while (at_gate < kClients) std::this_thread::yield();
        auto r = daemon.Post("/v1/completions", body);
        if (!r) {
          ++other;
        } else if (r->status == 200) {
          ++ok;
        } else if (r->status == 429) {
          ++rejected;
          if (r->get_header_value("Retry-After").empty()) retry_after_everywhere = false;
          auto d = Json(r->body);
          if (!d.IsObject() || !d.HasMember("error") ||
              std::string(d["error"]["type"].GetString()) != "rate_limit_error") {
            rate_limit_type = false;
          }
        } else {
          ++other;
        }
      });
    }
    for (auto& t : clients) t.join();
  }
  EXPECT_GT(rejected.load(), 0);
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(other.load(), 0);
  EXPECT_TRUE(retry_after_everywhere);
  EXPECT_TRUE(rate_limit_type);
  Samples s = daemon.Scrape();
  EXPECT_EQ(Get(s, "hearth_requests_rejected_total{model=\"smollm2\",reason=\"queued_requests\"}"), rejected.load());
  EXPECT_EQ(Get(s, "hearth_requests_total{model=\"smollm2\",status=\"rejected\"}"), rejected.load());
  EXPECT_EQ(Get(s, "hearth_requests_total{model=\"smollm2\",status=\"ok\"}"), ok.load());
  EXPECT_EQ(Get(s, "hearth_queued_requests"), 0);
}

// A worker that stops answering (SIGSTOP) while a request runs: /healthz turns 503 with the
// reason after health_stall_seconds, and back to 200 once tokens flow again (SIGCONT).
TEST(HealthzTest, StalledWorkerTurnsUnhealthyAndRecovers) {
  if (!DefaultModelPresent()) GTEST_SKIP() << "no model at " << DefaultModelPath();
  HearthdFixture daemon({"--health-stall-seconds", "1"});
  ASSERT_TRUE(daemon.WaitReady(120000)) << daemon.Log();
  auto status = Json(HttpGet(daemon.admin_port(), "/admin/v1/status").body);
  ASSERT_TRUE(status.IsObject() && status.HasMember("workers") && !status["workers"].Empty());
  const pid_t worker = status["workers"][0]["pid"].GetInt();

  std::atomic<bool> streaming{false}, done{false};
  int final_status = 0;
  std::thread client([&] {
    httplib::Client cli("127.0.0.1", daemon.port());
    cli.set_read_timeout(300, 0);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.body = R"({"model":"smollm2","messages":[{"role":"user","content":"Write a very long story"}],)"
               R"("max_tokens":300,"stream":true})";
    req.set_header("Content-Type", "application/json");
    req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
      streaming = true;
      return true;
    };
    auto r = cli.send(req);
    final_status = r ? r->status : -1;
    done = true;
  });
  while (!streaming && !done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(kill(worker, SIGSTOP), 0);

  HttpResult unhealthy;
  for (int i = 0; i < 300 && unhealthy.status != 503; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    unhealthy = HttpGet(daemon.port(), "/healthz");
  }
  const HttpResult unhealthy_admin = HttpGet(daemon.admin_port(), "/healthz");
  kill(worker, SIGCONT);
  EXPECT_EQ(unhealthy.status, 503);
  EXPECT_EQ(unhealthy_admin.status, 503);
  auto body = Json(unhealthy.body);
  EXPECT_TRUE(body.IsObject() && body.HasMember("reason")) << unhealthy.body;
  if (body.IsObject() && body.HasMember("reason")) {
    EXPECT_STREQ(body["status"].GetString(), "unhealthy");
    EXPECT_NE(std::string(body["reason"].GetString()).find("no token has been generated"), std::string::npos);
  }

  HttpResult healthy;
  for (int i = 0; i < 300 && healthy.status != 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    healthy = HttpGet(daemon.port(), "/healthz");
  }
  EXPECT_EQ(healthy.status, 200) << healthy.body;
  client.join();
  EXPECT_EQ(final_status, 200);
}

// No model: alive, but not ready, and the body says why.
TEST(ReadinessTest, NotReadyWithoutAModel) {
  std::string dir = TempDir();
  int port = FreePort(), admin = FreePort();
  ChildProcess d({BinaryPath("hearthd"), "--listen", "127.0.0.1:" + std::to_string(port), "--admin-listen",
                  "127.0.0.1:" + std::to_string(admin), "--data-dir", dir + "/data", "--config", ""},
                 dir + "/hearthd.log");
  ASSERT_TRUE(WaitHealthy(port, 20000)) << d.Log();
  for (int p : {port, admin}) {
    HttpResult r = HttpGet(p, "/readyz");
    EXPECT_EQ(r.status, 503);
    auto doc = Json(r.body);
    ASSERT_TRUE(doc.IsObject()) << r.body;
    EXPECT_STREQ(doc["status"].GetString(), "not_ready");
    EXPECT_STREQ(doc["reason"].GetString(), "no model is loaded");
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hearth::testing
