// Routing through a cluster (docs/cluster.md, "Routing"): one etcd and three hearthd on
// loopback, models smollm2, m-1 and m-2 (the same file under three names), every node
// registering all three and each model warm only on its home, the node the cluster's placement
// gave it. Every node answers every model with the text a single node gives; SIGKILL the home
// of the model ten streams use, streams that entered through another node, and every stream
// completes with the text of an uninterrupted run; node-to-node calls without the cluster
// token get 401.
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <sys/wait.h>
#include <optional>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
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

const std::vector<std::string> kNodes = {"node-a", "node-b", "node-c"};
// smollm2 is the name HearthdProcess registers on every node; the others are added by the test.
const std::vector<std::string> kModels = {"smollm2", "m-1", "m-2"};

struct Answer {
  std::string text;
  std::string id;
  std::string error;  // empty when it completed
};

// A seeded request, streamed or not; the text put together from its chunks.
Answer Generate(int port, const std::string& model, int seed, int max_tokens, bool stream) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(300, 0);
  const std::string body = "{\"model\":\"" + model +
                           "\",\"prompt\":\"Once upon a time, in a land far away,\",\"max_tokens\":" +
                           std::to_string(max_tokens) + ",\"temperature\":0.9,\"seed\":" + std::to_string(seed) +
                           (stream ? ",\"stream\":true}" : "}");
  auto r = c.Post("/v1/completions", body, "application/json");
  Answer a;
  if (!r) return {"", "", "no answer"};
  a.id = r->get_header_value("X-Request-Id");
  if (r->status != 200) return {"", a.id, std::to_string(r->status) + " " + r->body};
  if (!stream) {
    rapidjson::Document d = Json(r->body);
    const auto& choice = d["choices"][0];
    const std::string finish = choice["finish_reason"].GetString();
    if (finish != "length" && finish != "stop") a.error = r->body;
    a.text = choice["text"].GetString();
    return a;
  }
  bool done = false;
  std::string finish;
  size_t at = 0;
  while ((at = r->body.find("data: ", at)) != std::string::npos) {
    const size_t end = r->body.find("\n\n", at);
    const std::string data = r->body.substr(at + 6, end - at - 6);
    at = end;
    if (data == "[DONE]") {
      done = true;
      break;
    }
    rapidjson::Document d = Json(data);
    if (d.HasParseError() || !d.HasMember("choices") || d["choices"].Empty()) {
      a.error = "bad chunk: " + data;
      return a;
    }
    const auto& choice = d["choices"][0];
    a.text += choice["text"].GetString();
    if (choice.HasMember("finish_reason") && choice["finish_reason"].IsString()) finish = choice["finish_reason"].GetString();
  }
  if (!done || (finish != "length" && finish != "stop")) a.error = "stream ended with finish_reason '" + finish + "': " + r->body;
  return a;
}

class ClusterRoutingTest : public ::testing::Test {
 protected:
  // Each model gets its home from the cluster's placement, not from the test: the planner
  // (docs/cluster.md, "Placement across nodes") places a model only on a node that registers
  // it, and a home stays where its model is warm. A node started first leads alone for a
  // while and would take every home its budget holds, so the models are not all registered
  // from the start: smollm2 is (HearthdProcess adds it) and gets its home wherever the leader
  // puts it; then each other model is added on the nodes that hold no home yet, its home
  // awaited, and only then added on the rest, so that any node can cold-load any model. Warm
  // copies that are no home are unloaded at the end: the cluster never loads them again.
  void SetUp() override {
    if (!DefaultModelPresent()) GTEST_SKIP() << "no model at " << DefaultModelPath();
    if (!EtcdProcess::available()) GTEST_SKIP() << "no etcd on the PATH (scripts/install-deps adds it)";
    root_ = TempDir();
    etcd_ = std::make_unique<EtcdProcess>(root_);
    ASSERT_TRUE(etcd_->Start()) << etcd_->process()->Log();
    for (const std::string& name : kNodes) {
      const std::string dir = root_ + "/" + name;
      std::filesystem::create_directories(dir);
      std::ofstream config(dir + "/hearth.toml");
      // Placement by LRU: no prewarm loads a model the cluster did not place.
      config << "[scheduler]\ntoken_budget = 64\n[placement]\npolicy = \"lru\"\n" << ExtraConfig();
      config.close();
      Node n{name, dir, FreePort(), FreePort(), nullptr};
      n.process = std::make_unique<HearthdProcess>(dir, n.port, n.admin,
                                                   std::vector<std::string>{"--etcd", etcd_->url(), "--node-name", name,
                                                                            "--price-per-hour", "3600"});
      nodes_.push_back(std::move(n));
    }
    for (Node& n : nodes_) ASSERT_TRUE(n.process->healthy()) << n.process->process().Log();
    ASSERT_TRUE(WaitForHomes(1, 60s)) << "smollm2 got no home: " << HttpGet(nodes_[0].admin, "/admin/v1/cluster").body;
    for (size_t j = 1; j < kModels.size(); ++j) {
      std::vector<size_t> homeless, housed;
      for (size_t i = 0; i < nodes_.size(); ++i) (HomeOf(i).empty() ? homeless : housed).push_back(i);
      ASSERT_FALSE(homeless.empty());
      for (size_t i : homeless) ASSERT_TRUE(AddModel(i, kModels[j]));
      ASSERT_TRUE(WaitForHomes(j + 1, 60s)) << kModels[j] << " got no home";
      ASSERT_NE(std::find(homeless.begin(), homeless.end(), home_[kModels[j]]), homeless.end());
      for (size_t i : housed) ASSERT_TRUE(AddModel(i, kModels[j]));
    }
    for (size_t i = 0; i < nodes_.size(); ++i) {
      ASSERT_FALSE(HomeOf(i).empty()) << nodes_[i].name << " is no model's home";
      rapidjson::Document models = Json(HttpGet(nodes_[i].admin, "/admin/v1/models").body);
      ASSERT_TRUE(models.HasMember("data"));
      for (const auto& m : models["data"].GetArray()) {
        const std::string name = m["name"].GetString();
        if (name == HomeOf(i) || std::string(m["state"].GetString()) != "warm") continue;
        httplib::Client admin("127.0.0.1", nodes_[i].admin);
        admin.set_read_timeout(120, 0);
        auto r = admin.Post("/admin/v1/models/" + name + "/unload", "", "application/json");
        ASSERT_TRUE(r && r->status == 200) << nodes_[i].name << " " << name << ": " << (r ? r->body : "no answer");
      }
    }
    // Every node sees every node registering every model, warm on its home only.
    for (const Node& n : nodes_) ASSERT_TRUE(WaitForPlacement(n.admin, 30s)) << n.name;
    for (size_t i = 0; i < nodes_.size(); ++i) std::printf("%s is the home of %s\n", kNodes[i].c_str(), HomeOf(i).c_str());
  }
  // Appended to every node's hearth.toml.
  virtual std::string ExtraConfig() const { return ""; }

  void TearDown() override {
    for (Node& n : nodes_) {
      if (n.process) n.process->process().Signal(SIGCONT);
    }
    nodes_.clear();
    if (etcd_) etcd_->Stop();
    if (!root_.empty()) std::filesystem::remove_all(root_);
  }

  // Registers `model` (the default model's file) on node i through the admin API; it loads.
  bool AddModel(size_t i, const std::string& model) {
    httplib::Client admin("127.0.0.1", nodes_[i].admin);
    admin.set_read_timeout(120, 0);
    const std::string body = "{\"name\":\"" + model + "\",\"path\":\"" + DefaultModelPath() + "\"}";
    auto r = admin.Post("/admin/v1/models", body, "application/json");
    EXPECT_TRUE(r && r->status == 200) << nodes_[i].name << " " << model << ": " << (r ? r->body : "no answer");
    return r && r->status == 200;
  }

  // The homes the nodes hold: each model a node's applied warm targets name, warm and pinned
  // there, with every node it is home to.
  std::map<std::string, std::vector<size_t>> Homes() {
    std::map<std::string, std::vector<size_t>> homes;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      rapidjson::Document cluster = Json(HttpGet(nodes_[i].admin, "/admin/v1/cluster").body);
      rapidjson::Document models = Json(HttpGet(nodes_[i].admin, "/admin/v1/models").body);
      if (cluster.HasParseError() || !cluster.HasMember("placement") || models.HasParseError() ||
          !models.HasMember("data")) {
        continue;
      }
      for (const auto& target : cluster["placement"]["warm"].GetArray()) {
        for (const auto& m : models["data"].GetArray()) {
          if (m["name"] != target) continue;
          if (std::string(m["state"].GetString()) == "warm" && m["pinned"].GetBool()) {
            homes[target.GetString()].push_back(i);
          }
        }
      }
    }
    return homes;
  }

  // True once the first `count` models each have one home, on distinct nodes; fills home_.
  bool WaitForHomes(size_t count, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::map<std::string, std::vector<size_t>> homes = Homes();
      std::set<size_t> housed;
      bool ok = homes.size() == count;
      for (size_t j = 0; ok && j < count; ++j) {
        auto it = homes.find(kModels[j]);
        ok = it != homes.end() && it->second.size() == 1 && housed.insert(it->second[0]).second;
      }
      if (ok) {
        home_.clear();
        for (const auto& [model, at] : homes) home_[model] = at[0];
        return true;
      }
      std::this_thread::sleep_for(200ms);
    }
    return false;
  }

  // The model whose home node i is; empty when none.
  std::string HomeOf(size_t i) const {
    for (const auto& [model, at] : home_) {
      if (at == i) return model;
    }
    return "";
  }

  // True once `admin_port` sees the three nodes, each registering the three models, each
  // model warm on its home and on no other node.
  bool WaitForPlacement(int admin_port, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      rapidjson::Document d = Json(HttpGet(admin_port, "/admin/v1/cluster").body);
      size_t good = 0;
      if (!d.HasParseError() && d.HasMember("nodes")) {
        for (const auto& node : d["nodes"].GetArray()) {
          const auto it = std::find(kNodes.begin(), kNodes.end(), node["name"].GetString());
          if (it == kNodes.end()) continue;
          const size_t i = static_cast<size_t>(it - kNodes.begin());
          size_t right = 0;
          for (const auto& m : node["models"].GetArray()) {
            const bool warm = std::string(m["state"].GetString()) == "warm";
            right += warm == (HomeOf(i) == m["name"].GetString());
          }
          good += node["models"].Size() == kModels.size() && right == kModels.size();
        }
      }
      if (good == kNodes.size()) return true;
      std::this_thread::sleep_for(200ms);
    }
    return false;
  }

  // Waits (up to 2 minutes) until `count` requests running on node `entry` have 3 tokens each.
  void WaitUntilStreaming(size_t entry, int count) {
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (std::chrono::steady_clock::now() < deadline) {
      rapidjson::Document d = Json(HttpGet(nodes_[entry].admin, "/admin/v1/requests?state=running").body);
      int started = 0;
      if (!d.HasParseError() && d.HasMember("data")) {
        for (const auto& r : d["data"].GetArray()) started += r["completion_tokens"].GetInt() >= 3;
      }
      if (started >= count) return;
      std::this_thread::sleep_for(20ms);
    }
  }

  // The nodes that served request `id` of the node at `port`.
  std::vector<std::string> ServedBy(int port, const std::string& id) {
    rapidjson::Document d = Json(HttpGet(port, "/v1/requests/" + id).body);
    std::vector<std::string> out;
    if (d.HasParseError() || !d.HasMember("served_by")) return out;
    for (const auto& n : d["served_by"].GetArray()) out.push_back(n.GetString());
    return out;
  }

  // What request `id` of the node at `port` cost (-1: not said).
  double CostOf(int port, const std::string& id) {
    rapidjson::Document d = Json(HttpGet(port, "/v1/requests/" + id).body);
    if (d.HasParseError() || !d.HasMember("cost_dollars") || !d["cost_dollars"].IsNumber()) return -1;
    return d["cost_dollars"].GetDouble();
  }

  struct Node {
    std::string name, dir;
    int port = 0, admin = 0;
    std::unique_ptr<HearthdProcess> process;
  };
  std::string root_;
  std::unique_ptr<EtcdProcess> etcd_;
  std::vector<Node> nodes_;
  std::map<std::string, size_t> home_;  // model -> index in nodes_ of its home
};

TEST_F(ClusterRoutingTest, EveryNodeAnswersEveryModelWithTheTextOfOneNode) {
  // The reference: node-a serving its own home model (the three are one file, so one text).
  const Answer expected = Generate(nodes_[0].port, HomeOf(0), 7, 24, false);
  ASSERT_TRUE(expected.error.empty()) << expected.error;
  ASSERT_FALSE(expected.text.empty());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    for (const std::string& model : kModels) {
      for (bool stream : {false, true}) {
        const Answer a = Generate(nodes_[i].port, model, 7, 24, stream);
        ASSERT_TRUE(a.error.empty()) << nodes_[i].name << " " << model << ": " << a.error;
        EXPECT_EQ(a.text, expected.text) << nodes_[i].name << " " << model << (stream ? " streamed" : "");
        // Served where the model is warm, its home: forwarded unless that is the entry node.
        EXPECT_EQ(ServedBy(nodes_[i].port, a.id), std::vector<std::string>{kNodes[home_[model]]})
            << nodes_[i].name << " " << model;
        // Every node costs $1 a second: each request cost something, on whichever node made it.
        EXPECT_GT(CostOf(nodes_[i].port, a.id), 0) << nodes_[i].name << " " << model;
      }
    }
  }
  // The routing counters of node-a: 2 local (its home model) + the reference, 4 forwarded.
  const std::string metrics = HttpGet(nodes_[0].port, "/metrics").body;
  EXPECT_NE(metrics.find("hearth_cluster_routed_requests_total{to=\"forwarded\"} 4"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("hearth_cluster_routed_requests_total{to=\"local\"} 3"), std::string::npos);
  // The serving node keeps no record of what it serves for another node: its entry node does.
  rapidjson::Document listed = Json(HttpGet(nodes_[1].admin, "/admin/v1/requests?limit=1000").body);
  ASSERT_TRUE(listed.HasMember("data")) << "the admin API lists requests";
  EXPECT_EQ(listed["data"].Size(), 6u) << "the six requests that entered node-b, not the four it served for others";
}

TEST_F(ClusterRoutingTest, KillingTheServingNodeLosesNoStreamAndChangesNoText) {
  constexpr int kStreams = 10;
  constexpr int kTokens = 48;
  // The streams use node-b's home model and enter through node-a; node-b dies under them.
  const size_t victim = 1, entry = 0;
  const std::string model = HomeOf(victim);
  // Uninterrupted references, straight from the model's home.
  std::vector<std::string> expected(kStreams);
  for (int k = 0; k < kStreams; ++k) {
    const Answer a = Generate(nodes_[victim].port, model, 100 + k, kTokens, false);
    ASSERT_TRUE(a.error.empty()) << a.error;
    expected[k] = a.text;
  }
  std::vector<Answer> got(kStreams);
  std::vector<std::thread> clients;
  for (int k = 0; k < kStreams; ++k) {
    clients.emplace_back([&, k] { got[k] = Generate(nodes_[entry].port, model, 100 + k, kTokens, true); });
  }
  // Once every stream has a few tokens, the model's home dies.
  WaitUntilStreaming(entry, kStreams);
  nodes_[victim].process->process().Signal(SIGKILL);
  ASSERT_TRUE(nodes_[victim].process->process().Wait(10000).has_value());
  for (std::thread& t : clients) t.join();
  for (int k = 0; k < kStreams; ++k) {
    ASSERT_TRUE(got[k].error.empty()) << "stream " << k << ": " << got[k].error;
    EXPECT_EQ(got[k].text, expected[k]) << "stream " << k;
    const std::vector<std::string> served = ServedBy(nodes_[entry].port, got[k].id);
    ASSERT_GE(served.size(), 2u) << "stream " << k << " was not taken over";
    EXPECT_EQ(served.front(), kNodes[victim]);
    EXPECT_NE(served.back(), kNodes[victim]);
  }
  const std::string metrics = HttpGet(nodes_[entry].port, "/metrics").body;
  EXPECT_EQ(metrics.find("hearth_cluster_resubmitted_requests_total 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("hearth_cluster_forward_failures_total 0"), std::string::npos) << metrics;
  // The plan brings the dead node's model up on a survivor once its lease is gone.
  bool rehomed = false;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!rehomed && std::chrono::steady_clock::now() < deadline) {
    const auto homes = Homes();
    auto it = homes.find(model);
    rehomed = it != homes.end() && std::find(it->second.begin(), it->second.end(), victim) == it->second.end();
    if (!rehomed) std::this_thread::sleep_for(200ms);
  }
  EXPECT_TRUE(rehomed) << model << " got no new home: " << HttpGet(nodes_[entry].admin, "/admin/v1/cluster").body;
}

// The same three nodes, every one moving its requests on a preemption with their KV blocks
// ("transfer") or without ("recompute").
class ClusterPreemptionTest : public ClusterRoutingTest, public ::testing::WithParamInterface<std::string> {
 protected:
  std::string ExtraConfig() const override { return "[cluster]\nkv_handoff = \"" + GetParam() + "\"\n"; }
};

// A counter's value in a /metrics text; 0 when it is not there.
double MetricValue(const std::string& metrics, const std::string& name) {
  const size_t at = metrics.find("\n" + name + " ");
  return at == std::string::npos ? 0 : std::atof(metrics.c_str() + at + name.size() + 2);
}

// A spot node's preemption notice: it drains (published: routers skip it), keeps decoding
// until its stop time, hands every request to the node its plan chose (with the blocks it
// computed, or for that node to recompute them), through the request's entry node, which
// resubmits it there with its committed tokens, and exits 0 inside its grace period.
TEST_P(ClusterPreemptionTest, APreemptionNoticeHandsEveryStreamOverAndTheNodeExitsInItsGrace) {
  constexpr int kStreams = 20;
  constexpr int kTokens = 256;  // more than 20 streams can finish before the stop
  const size_t victim = 1, entry = 0;
  const std::string model = HomeOf(victim);
  // Uninterrupted references, straight from the model's home, all at once.
  std::vector<Answer> expected(kStreams);
  {
    std::vector<std::thread> refs;
    for (int k = 0; k < kStreams; ++k) {
      refs.emplace_back([&, k] { expected[k] = Generate(nodes_[victim].port, model, 200 + k, kTokens, false); });
    }
    for (std::thread& t : refs) t.join();
  }
  for (int k = 0; k < kStreams; ++k) ASSERT_TRUE(expected[k].error.empty()) << expected[k].error;
  std::vector<Answer> got(kStreams);
  std::vector<std::thread> clients;
  for (int k = 0; k < kStreams; ++k) {
    clients.emplace_back([&, k] { got[k] = Generate(nodes_[entry].port, model, 200 + k, kTokens, true); });
  }
  WaitUntilStreaming(entry, kStreams);
  // The notice: 10 s of grace.
  httplib::Client admin("127.0.0.1", nodes_[victim].admin);
  const auto noticed = std::chrono::steady_clock::now();
  auto preempt = admin.Post("/admin/v1/preempt", R"({"grace_seconds":10})", "application/json");
  ASSERT_TRUE(preempt && preempt->status == 200) << (preempt ? preempt->body : "no answer");
  // Routers stop sending it work: its published record says it drains.
  // With its migration plan: the node each of its models goes to.
  bool published = false;
  std::string target;
  for (int i = 0; i < 50 && !published; ++i) {
    rapidjson::Document d = Json(HttpGet(nodes_[entry].admin, "/admin/v1/cluster").body);
    for (const auto& n : d["nodes"].GetArray()) {
      if (kNodes[victim] != n["name"].GetString() || !n.HasMember("draining") || !n["draining"].GetBool()) continue;
      published = true;
      if (n.HasMember("handoff")) {
        for (const auto& h : n["handoff"].GetArray()) {
          if (model == h["model"].GetString()) target = h["node"].GetString();
        }
      }
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(published) << "the draining node's record says so";
  ASSERT_FALSE(target.empty()) << "the plan sends " << model << " somewhere";
  EXPECT_NE(target, kNodes[victim]);
  const std::optional<int> status = nodes_[victim].process->process().Wait(15000);
  const double exited_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - noticed).count();
  ASSERT_TRUE(status.has_value()) << "the preempted node did not exit";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "status " << *status;
  EXPECT_LT(exited_after, 10.0) << "it exits inside its grace period";
  for (std::thread& t : clients) t.join();
  int handed_over = 0;
  for (int k = 0; k < kStreams; ++k) {
    ASSERT_TRUE(got[k].error.empty()) << "stream " << k << ": " << got[k].error;
    EXPECT_EQ(got[k].text, expected[k].text) << "stream " << k;
    // A stream that reached its end of text before the stop finished there; every other one
    // was handed over.
    const std::vector<std::string> served = ServedBy(nodes_[entry].port, got[k].id);
    ASSERT_FALSE(served.empty());
    EXPECT_EQ(served.front(), kNodes[victim]);
    if (served.size() >= 2) {
      ++handed_over;
      EXPECT_EQ(served.back(), target) << "the plan's node took it (it loaded the model during the grace)";
    }
  }
  EXPECT_GE(handed_over, kStreams / 2) << "most streams outlast the stop and are handed over";
  // The handoff times, as the entry node measured them (the loss to the next token).
  const std::string metrics = HttpGet(nodes_[entry].port, "/metrics").body;
  const size_t at = metrics.find("hearth_cluster_handoff_seconds_count ");
  ASSERT_NE(at, std::string::npos) << metrics;
  const double count = std::atof(metrics.c_str() + at + std::strlen("hearth_cluster_handoff_seconds_count "));
  const size_t sum_at = metrics.find("hearth_cluster_handoff_seconds_sum ");
  const double sum = std::atof(metrics.c_str() + sum_at + std::strlen("hearth_cluster_handoff_seconds_sum "));
  EXPECT_EQ(count, handed_over);
  // The plan's node imported the blocks, or computed everything itself.
  size_t t = 0;
  while (t < kNodes.size() && kNodes[t] != target) ++t;
  ASSERT_LT(t, kNodes.size());
  const std::string target_metrics = HttpGet(nodes_[t].port, "/metrics").body;
  const double imported = MetricValue(target_metrics, "hearth_cluster_kv_imported_blocks_total");
  if (GetParam() == "transfer") {
    // Every stream handed over had more than 16 tokens: at least one full block each.
    EXPECT_GE(imported, handed_over) << target_metrics;
  } else {
    EXPECT_EQ(imported, 0) << "nothing is sent for recompute";
  }
  std::printf("preemption (%s): node exited %.2f s after the notice; %d of %d streams handed over, mean handoff %.3f s, "
              "%.0f KV blocks imported\n",
              GetParam().c_str(), exited_after, handed_over, kStreams, count > 0 ? sum / count : 0.0, imported);
  EXPECT_NE(metrics.find("hearth_cluster_forward_failures_total 0"), std::string::npos) << metrics;
}

INSTANTIATE_TEST_SUITE_P(KvHandoff, ClusterPreemptionTest, ::testing::Values("transfer", "recompute"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });



TEST_F(ClusterRoutingTest, NodeToNodeCallsNeedTheClusterToken) {
  // What node-a would send node-b for node-b's home model.
  httplib::Client c("127.0.0.1", nodes_[1].port);
  const std::string body =
      R"({"model":")" + HomeOf(1) + R"(","prompt":[1,2,3],"max_tokens":4,"priority":0,"stop":[],)"
      R"("sampling":{"temperature":0,)"
      R"("top_k":0,"top_p":1,"min_p":0,"repetition_penalty":1,"frequency_penalty":0,"presence_penalty":0,)"
      R"("seed":"1","num_logprobs":0},"committed":[],"entry":"x","entry_id":1})";
  auto none = c.Post("/cluster/v1/generate", body, "application/json");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_NE(none->body.find("\"error\""), std::string::npos) << none->body;
  httplib::Headers wrong = {{"Authorization", "Bearer not-the-token-at-all"}};
  auto bad = c.Post("/cluster/v1/generate", wrong, body, "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 401);
  // With the token: served, as server-sent events ending in [DONE].
  httplib::Headers good = {{"Authorization", std::string("Bearer ") + std::getenv("HEARTH_CLUSTER_TOKEN")}};
  auto ok = c.Post("/cluster/v1/generate", good, body, "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_NE(ok->body.find("\"finish\":\"length\""), std::string::npos) << ok->body;
  // A token id outside the vocabulary is a 400, not a crash.
  std::string huge = body;
  huge.replace(huge.find("[1,2,3]"), 7, "[1,2,16000000]");
  auto refused = c.Post("/cluster/v1/generate", good, huge, "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400) << refused->body;
  // The KV route likewise: no token 401, a body that is no KV prefix 400.
  auto kv_none = c.Post("/cluster/v1/kv", "HKV1", "application/octet-stream");
  ASSERT_TRUE(kv_none);
  EXPECT_EQ(kv_none->status, 401);
  auto kv_bad = c.Post("/cluster/v1/kv", good, std::string("HKV1\xff\xff\xff\xff", 8), "application/octet-stream");
  ASSERT_TRUE(kv_bad);
  EXPECT_EQ(kv_bad->status, 400) << kv_bad->body;
}

}  // namespace
}  // namespace hearth::testing
