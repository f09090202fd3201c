// Three hearthd nodes and one etcd on loopback (docs/cluster.md): each node joins with a lease
// and publishes its models; every node sees all three (admin API, hearthctl cluster, /metrics,
// promtool-clean); a node stopped (SIGSTOP) past its lease TTL leaves the others' view and
// rejoins with a new lease after SIGCONT; with etcd stopped a node still serves, /readyz says
// degraded, and the cluster reforms when etcd is back.
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "tests/model_path.h"
#include "tests/test_process.h"

namespace hearth::testing {
namespace {

using namespace std::chrono_literals;

rapidjson::Document Json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  return d;
}

// The node names a node's admin API lists.
std::set<std::string> Nodes(int admin_port) {
  const HttpResult r = HttpGet(admin_port, "/admin/v1/cluster");
  std::set<std::string> out;
  if (r.status != 200) return out;
  rapidjson::Document d = Json(r.body);
  if (d.HasParseError() || !d.HasMember("nodes")) return out;
  for (const auto& n : d["nodes"].GetArray()) out.insert(n["name"].GetString());
  return out;
}

// Waits up to `timeout` for `admin_port` to list exactly `want`.
bool WaitForNodes(int admin_port, const std::set<std::string>& want, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Nodes(admin_port) == want) return true;
    std::this_thread::sleep_for(200ms);
  }
  return false;
}

std::string Complete(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(120, 0);
  auto r = c.Post("/v1/completions", R"({"model":"smollm2","prompt":"The capital of France is","max_tokens":8,"seed":1})",
                  "application/json");
  if (!r || r->status != 200) return "<failed>";
  rapidjson::Document d = Json(r->body);
  return d["choices"][0]["text"].GetString();
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!DefaultModelPresent()) GTEST_SKIP() << "no model at " << DefaultModelPath();
    if (!EtcdProcess::available()) GTEST_SKIP() << "no etcd on the PATH (scripts/install-deps adds it)";
    root_ = TempDir();
    etcd_ = std::make_unique<EtcdProcess>(root_);
    ASSERT_TRUE(etcd_->Start()) << etcd_->process()->Log();
    for (int i = 0; i < 3; ++i) {
      const std::string name = std::vector<std::string>{"node-a", "node-b", "node-c"}[i];
      const std::string dir = root_ + "/" + name;
      std::filesystem::create_directories(dir);
      std::ofstream(dir + "/hearth.toml") << "[scheduler]\ntoken_budget = 64\n";
      Node n{name, dir, FreePort(), FreePort(), nullptr};
      n.process = std::make_unique<HearthdProcess>(
          dir, n.port, n.admin,
          std::vector<std::string>{"--etcd", etcd_->url(), "--node-name", name, "--instance",
                                   i == 2 ? "spot" : "on-demand", "--price-per-hour", i == 2 ? "0.3" : "1.0"});
      nodes_.push_back(std::move(n));
    }
    for (Node& n : nodes_) ASSERT_TRUE(n.process->healthy()) << n.process->process().Log();
  }
  void TearDown() override {
    for (Node& n : nodes_) {
      if (n.process) n.process->process().Signal(SIGCONT);
    }
    nodes_.clear();
    if (etcd_) etcd_->Stop();
    if (!root_.empty()) std::filesystem::remove_all(root_);
  }
  struct Node {
    std::string name, dir;
    int port = 0, admin = 0;
    std::unique_ptr<HearthdProcess> process;
  };
  std::string root_;
  std::unique_ptr<EtcdProcess> etcd_;
  std::vector<Node> nodes_;
  const std::set<std::string> all_ = {"node-a", "node-b", "node-c"};
};

TEST_F(ClusterTest, NodesJoinPublishTheirModelsAndShowTheCluster) {
  for (const Node& n : nodes_) ASSERT_TRUE(WaitForNodes(n.admin, all_, 30s)) << n.name;
  const HttpResult r = HttpGet(nodes_[0].admin, "/admin/v1/cluster");
  rapidjson::Document d = Json(r.body);
  EXPECT_EQ(std::string(d["node"].GetString()), "node-a");
  EXPECT_EQ(std::string(d["state"].GetString()), "member") << r.body;
  EXPECT_TRUE(d["lease"]["held"].GetBool());
  // This node's cost so far (docs/cluster.md, "What it costs"): 1.0 per hour since it started.
  ASSERT_TRUE(d.HasMember("cost")) << r.body;
  EXPECT_EQ(d["cost"]["price_per_hour"].GetDouble(), 1.0);
  EXPECT_GT(d["cost"]["uptime_seconds"].GetDouble(), 0);
  EXPECT_DOUBLE_EQ(d["cost"]["dollars"].GetDouble(), d["cost"]["node_hours"].GetDouble());
  for (const auto& n : d["nodes"].GetArray()) {
    const std::string name = n["name"].GetString();
    EXPECT_EQ(std::string(n["instance"].GetString()), name == "node-c" ? "spot" : "on-demand");
    ASSERT_EQ(n["models"].Size(), 1u) << r.body;
    EXPECT_EQ(std::string(n["models"][0]["name"].GetString()), "smollm2");
    EXPECT_EQ(std::string(n["models"][0]["state"].GetString()), "warm");
    EXPECT_GT(n["models"][0]["bytes"].GetUint64(), 0u);
  }
  // hearthctl: the table and the Prometheus targets.
  const std::string url = "http://127.0.0.1:" + std::to_string(nodes_[1].admin);
  RunResult list = RunCommand({BinaryPath("hearthctl"), "--url", url, "cluster"});
  EXPECT_EQ(list.exit_code, 0) << list.out;
  EXPECT_NE(list.out.find("node node-b: member"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("node-b (this)"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("smollm2:warm"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("node-hours at 1.00/h since hearthd started"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("cluster cost so far: $"), std::string::npos) << list.out;
  RunResult targets = RunCommand({BinaryPath("hearthctl"), "--url", url, "cluster", "targets"});
  EXPECT_EQ(targets.exit_code, 0);
  for (const Node& n : nodes_) {
    EXPECT_NE(targets.out.find("\"127.0.0.1:" + std::to_string(n.port) + "\""), std::string::npos) << targets.out;
  }
  // /readyz and /metrics.
  const HttpResult ready = HttpGet(nodes_[2].port, "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_NE(ready.body.find("\"cluster\":\"member\""), std::string::npos) << ready.body;
  const HttpResult metrics = HttpGet(nodes_[2].port, "/metrics");
  EXPECT_NE(metrics.body.find("hearth_cluster_nodes 3"), std::string::npos);
  EXPECT_NE(metrics.body.find("\nhearth_node_price_dollars_per_hour 0.3\n"), std::string::npos);
  EXPECT_NE(metrics.body.find("\nhearth_node_cost_dollars_total "), std::string::npos);
  EXPECT_NE(metrics.body.find("hearth_cluster_lease_held 1"), std::string::npos);
  if (std::system("command -v promtool >/dev/null 2>&1") == 0) {
    const std::string file = root_ + "/metrics.txt";
    std::ofstream(file) << metrics.body;
    RunResult check = RunCommand({"sh", "-c", "promtool check metrics < " + file + " 2>&1"});
    EXPECT_EQ(check.exit_code, 0) << check.out;
  }
  // A node that stops cleanly leaves at once (its lease revoked), not a TTL later.
  nodes_[1].process->process().Signal(SIGTERM);
  ASSERT_TRUE(nodes_[1].process->process().Wait(60000).has_value());
  EXPECT_TRUE(WaitForNodes(nodes_[0].admin, {"node-a", "node-c"}, 5s));
}

TEST_F(ClusterTest, ANodeStoppedPastItsLeaseLeavesAndRejoins) {
  ASSERT_TRUE(WaitForNodes(nodes_[0].admin, all_, 30s));
  nodes_[2].process->process().Signal(SIGSTOP);
  // Its lease (TTL 10 s) expires: the others stop seeing it.
  EXPECT_TRUE(WaitForNodes(nodes_[0].admin, {"node-a", "node-b"}, 25s));
  nodes_[2].process->process().Signal(SIGCONT);
  EXPECT_TRUE(WaitForNodes(nodes_[0].admin, all_, 15s)) << "node-c rejoins with a new lease";
  const HttpResult r = HttpGet(nodes_[2].admin, "/admin/v1/cluster");
  EXPECT_NE(r.body.find("\"held\":true"), std::string::npos) << r.body;
}

TEST_F(ClusterTest, WithEtcdDownNodesServeDegradedAndTheClusterReforms) {
  ASSERT_TRUE(WaitForNodes(nodes_[0].admin, all_, 30s));
  const std::string expected = Complete(nodes_[0].port);
  ASSERT_EQ(expected.front() == '<', false) << expected;
  // Traffic to every node while etcd goes away: none of it is lost.
  std::atomic<bool> stop{false};
  std::vector<std::thread> traffic;
  std::vector<std::vector<std::string>> answers(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    traffic.emplace_back([&, i] {
      while (!stop) answers[i].push_back(Complete(nodes_[i].port));
    });
  }
  std::this_thread::sleep_for(500ms);
  etcd_->Stop();
  std::this_thread::sleep_for(2500ms);  // a tick or two find etcd gone
  stop = true;
  for (std::thread& t : traffic) t.join();
  for (size_t i = 0; i < nodes_.size(); ++i) {
    EXPECT_FALSE(answers[i].empty()) << nodes_[i].name;
    for (const std::string& a : answers[i]) EXPECT_EQ(a, expected) << nodes_[i].name << ": a request during the outage";
  }
  for (const Node& n : nodes_) {
    EXPECT_EQ(Complete(n.port), expected) << n.name << ": serves what it hosts";
    const HttpResult ready = HttpGet(n.port, "/readyz");
    EXPECT_EQ(ready.status, 200) << n.name;
    EXPECT_NE(ready.body.find("\"cluster\":\"degraded\""), std::string::npos) << ready.body;
  }
  ASSERT_TRUE(etcd_->Start());
  // A degraded node keeps its last view (all three), so the view alone does not show the
  // cluster back: each node must be a member again, and then see all three.
  for (const Node& n : nodes_) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    std::string body;
    while (std::chrono::steady_clock::now() < deadline) {
      body = HttpGet(n.port, "/readyz").body;
      if (body.find("\"cluster\":\"member\"") != std::string::npos) break;
      std::this_thread::sleep_for(200ms);
    }
    EXPECT_NE(body.find("\"cluster\":\"member\""), std::string::npos) << n.name << ": " << body;
    EXPECT_TRUE(WaitForNodes(n.admin, all_, 30s)) << n.name;
  }
}

}  // namespace
}  // namespace hearth::testing
