// `promtool check metrics` (Debian's prometheus package) on a live hearthd's /metrics, scraped
// from the admin port: once alone, after requests that ended ok, cancelled and rejected (so that
// every per-model counter and histogram has series), and once as a cluster node with etcd, a
// member and then degraded (the hearth_cluster_* families with values that moved). promtool must
// exit 0 and print nothing: each lint problem (a counter without _total, a missing HELP, a unit
// that is not a base unit) is a line of its output. Skipped without promtool, which
// scripts/install-deps installs; also, like every process test, without the model or etcd.
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "tests/model_path.h"
#include "tests/test_process.h"

namespace hearth::testing {
namespace {

using namespace std::chrono_literals;

bool HavePromtool() { return RunCommand({"sh", "-c", "command -v promtool"}).exit_code == 0; }

// promtool's verdict on an exposition: its exit status and all it printed (stderr included:
// lint problems go there, one a line).
RunResult PromtoolCheckMetrics(const std::string& exposition, const std::string& dir) {
  const std::string file = dir + "/metrics.txt";
  std::ofstream(file) << exposition;
  return RunCommand({"sh", "-c", "promtool check metrics < " + file + " 2>&1"});
}

// Polls GET /metrics on `port` until `done` holds for its text (up to 60 s); the last text.
std::string ScrapeUntil(int port, const std::function<bool(const std::string&)>& done) {
  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    text = HttpGet(port, "/metrics").body;
    if (done(text)) break;
    std::this_thread::sleep_for(100ms);
  }
  return text;
}

// Whether a line of the exposition (past its first) starts with `line_start`.
bool Has(const std::string& text, const std::string& line_start) {
  return text.find("\n" + line_start) != std::string::npos;
}

// A streaming chat request; the client hangs up after `max_chunks` chunks (0: reads it all).
// True when the response ended as the client wanted.
bool Stream(int port, int max_tokens, int max_chunks) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(300, 0);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = R"({"model":"smollm2","messages":[{"role":"user","content":"Write a long story"}],"max_tokens":)" +
             std::to_string(max_tokens) + R"(,"stream":true})";
  req.set_header("Content-Type", "application/json");
  int chunks = 0;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) {
    return max_chunks == 0 || ++chunks < max_chunks;
  };
  auto r = cli.send(req);
  return max_chunks == 0 ? r && r->status == 200 : !r;
}

// A short completion's HTTP status (0 when there was no answer within a minute).
int Complete(int port) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_read_timeout(60, 0);
  auto r = cli.Post("/v1/completions", R"({"model":"smollm2","prompt":"The capital of France is","max_tokens":6})",
                    "application/json");
  return r ? r->status : 0;
}

class MetricsPromtoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HavePromtool()) GTEST_SKIP() << "promtool not installed (Debian's prometheus package; scripts/install-deps)";
    if (!DefaultModelPresent()) GTEST_SKIP() << "no model at " << DefaultModelPath();
    dir_ = TempDir();
    std::ofstream(dir_ + "/hearth.toml").flush();
  }
  void TearDown() override {
    daemon_.reset();
    if (etcd_) etcd_->Stop();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void Start(const std::vector<std::string>& extra) {
    port_ = FreePort();
    admin_ = FreePort();
    daemon_ = std::make_unique<HearthdProcess>(dir_, port_, admin_, extra);
    ASSERT_TRUE(daemon_->healthy()) << daemon_->process().Log();
  }

  // promtool on a scrape: exit 0, nothing printed.
  void ExpectPromtoolClean(const std::string& exposition) {
    ASSERT_FALSE(exposition.empty());
    const RunResult r = PromtoolCheckMetrics(exposition, dir_);
    EXPECT_EQ(r.exit_code, 0) << r.out << "\n--- /metrics:\n" << exposition;
    EXPECT_EQ(r.out, "") << "promtool's lint problems:\n" << r.out;
  }

  std::string dir_;
  int port_ = 0, admin_ = 0;
  std::unique_ptr<EtcdProcess> etcd_;
  std::unique_ptr<HearthdProcess> daemon_;
};

// One request of each outcome: ok (a completion and a stream), rejected (the queue of one is
// full: the worker is stopped so that the first request stays queued), cancelled (a stream the
// client hangs up).
TEST_F(MetricsPromtoolTest, AloneAfterRequestsOfEveryOutcome) {
  ASSERT_NO_FATAL_FAILURE(Start({"--max-queued-requests", "1"}));
  ASSERT_EQ(Complete(port_), 200);

  rapidjson::Document status;
  const std::string status_body = HttpGet(admin_, "/admin/v1/status").body;
  status.Parse(status_body.c_str(), status_body.size());
  ASSERT_TRUE(status.IsObject() && status.HasMember("workers") && !status["workers"].Empty()) << status_body;
  const pid_t worker = status["workers"][0]["pid"].GetInt();
  ASSERT_EQ(kill(worker, SIGSTOP), 0);
  bool queued_ok = false;
  std::thread queued([&] { queued_ok = Stream(port_, 8, 0); });
  const bool queue_full =
      Has(ScrapeUntil(admin_, [](const std::string& m) { return Has(m, "hearth_queued_requests 1\n"); }),
          "hearth_queued_requests 1\n");
  const int refused = queue_full ? Complete(port_) : 0;
  kill(worker, SIGCONT);
  queued.join();
  ASSERT_TRUE(queue_full) << "the stream never showed in hearth_queued_requests";
  EXPECT_EQ(refused, 429);
  EXPECT_TRUE(queued_ok);

  EXPECT_TRUE(Stream(port_, 4000, 3)) << "the client hangs up";
  const std::string metrics = ScrapeUntil(admin_, [](const std::string& m) {
    return Has(m, "hearth_requests_total{model=\"smollm2\",status=\"cancelled\"} 1\n") &&
           Has(m, "hearth_num_requests_running{model=\"smollm2\"} 0\n");
  });
  for (const char* series :
       {"hearth_requests_total{model=\"smollm2\",status=\"ok\"} 2\n",
        "hearth_requests_total{model=\"smollm2\",status=\"rejected\"} 1\n",
        "hearth_requests_total{model=\"smollm2\",status=\"cancelled\"} 1\n",
        "hearth_requests_rejected_total{model=\"smollm2\",reason=\"queued_requests\"} 1\n",
        "hearth_time_to_first_token_seconds_bucket{model=\"smollm2\",le=\"+Inf\"} ",
        "hearth_time_per_output_token_seconds_count{model=\"smollm2\"} ",
        "hearth_request_duration_seconds_count{model=\"smollm2\"} ",
        "hearth_model_load_seconds_count{model=\"smollm2\"} 1\n", "hearth_store_commit_seconds_count "}) {
    EXPECT_TRUE(Has(metrics, series)) << "no " << series << " in\n" << metrics;
  }
  ExpectPromtoolClean(metrics);
}

// A cluster node: a member (lease held, one node seen), then with etcd stopped, degraded, its
// error counter moving.
TEST_F(MetricsPromtoolTest, AsAClusterNodeMemberAndDegraded) {
  if (!EtcdProcess::available()) GTEST_SKIP() << "no etcd on the PATH (scripts/install-deps adds it)";
  etcd_ = std::make_unique<EtcdProcess>(dir_);
  ASSERT_TRUE(etcd_->Start()) << etcd_->process()->Log();
  ASSERT_NO_FATAL_FAILURE(Start({"--etcd", etcd_->url(), "--node-name", "node-a"}));
  ASSERT_EQ(Complete(port_), 200);

  const std::string member = ScrapeUntil(admin_, [](const std::string& m) {
    return Has(m, "hearth_cluster_lease_held 1\n") && Has(m, "hearth_cluster_nodes 1\n");
  });
  EXPECT_TRUE(Has(member, "hearth_cluster_lease_held 1\n")) << member;
  EXPECT_TRUE(Has(member, "hearth_cluster_etcd_reachable 1\n")) << member;
  ExpectPromtoolClean(member);

  etcd_->Stop();
  const std::string degraded = ScrapeUntil(admin_, [](const std::string& m) {
    return Has(m, "hearth_cluster_etcd_reachable 0\n") && !Has(m, "hearth_cluster_etcd_errors_total 0\n");
  });
  EXPECT_TRUE(Has(degraded, "hearth_cluster_etcd_reachable 0\n")) << degraded;
  EXPECT_FALSE(Has(degraded, "hearth_cluster_etcd_errors_total 0\n")) << degraded;
  ASSERT_EQ(Complete(port_), 200) << "a degraded node serves what it hosts";
  ExpectPromtoolClean(HttpGet(admin_, "/metrics").body);
}

}  // namespace
}  // namespace hearth::testing
