// Routing through a cluster (docs/cluster.md, "Routing"): one etcd and three hearthd on
// loopback, models m-a, m-b and m-c (the same file under three names) each warm on one node
// only. Every node answers every model with the text a single node gives; SIGKILL the node
// serving ten streams that entered through another node, and every stream completes with the
// text of an uninterrupted run; node-to-node calls without the cluster token get 401.
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <atomic>
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
const std::vector<std::string> kModels = {"m-a", "m-b", "m-c"};

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
    if (std::string(choice["finish_reason"].GetString()) != "length") a.error = r->body;
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
  if (!done || finish != "length") a.error = "stream ended with finish_reason '" + finish + "': " + r->body;
  return a;
}

class ClusterRoutingTest : public ::testing::Test {
 protected:
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
      // Placement by LRU: no prewarm moves a model this test placed.
      config << "[scheduler]\ntoken_budget = 64\n[placement]\npolicy = \"lru\"\n[models]\n";
      for (const std::string& m : kModels) config << m << " = \"" << DefaultModelPath() << "\"\n";
      config.close();
      Node n{name, dir, FreePort(), FreePort(), nullptr};
      n.process = std::make_unique<HearthdProcess>(dir, n.port, n.admin,
                                                   std::vector<std::string>{"--etcd", etcd_->url(), "--node-name", name});
      nodes_.push_back(std::move(n));
    }
    for (Node& n : nodes_) ASSERT_TRUE(n.process->healthy()) << n.process->process().Log();
    // Node i keeps model i warm and unloads the others.
    for (size_t i = 0; i < nodes_.size(); ++i) {
      httplib::Client admin("127.0.0.1", nodes_[i].admin);
      admin.set_read_timeout(120, 0);
      for (size_t j = 0; j < kModels.size(); ++j) {
        if (j == i) continue;
        auto r = admin.Post("/admin/v1/models/" + kModels[j] + "/unload", "", "application/json");
        ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
      }
    }
    // Every node sees every node with its one warm model.
    for (const Node& n : nodes_) ASSERT_TRUE(WaitForPlacement(n.admin, 30s)) << n.name;
  }
  void TearDown() override {
    for (Node& n : nodes_) {
      if (n.process) n.process->process().Signal(SIGCONT);
    }
    nodes_.clear();
    if (etcd_) etcd_->Stop();
    if (!root_.empty()) std::filesystem::remove_all(root_);
  }

  // True once `admin_port` sees node i with model i warm and the other two not, for every i.
  bool WaitForPlacement(int admin_port, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      rapidjson::Document d = Json(HttpGet(admin_port, "/admin/v1/cluster").body);
      int good = 0;
      if (!d.HasParseError() && d.HasMember("nodes")) {
        for (const auto& node : d["nodes"].GetArray()) {
          const std::string name = node["name"].GetString();
          const size_t i = static_cast<size_t>(std::find(kNodes.begin(), kNodes.end(), name) - kNodes.begin());
          bool ok = true;
          for (const auto& m : node["models"].GetArray()) {
            const std::string model = m["name"].GetString();
            const bool warm = std::string(m["state"].GetString()) == "warm";
            if (model == "smollm2") continue;
            if (warm != (i < kModels.size() && model == kModels[i])) ok = false;
          }
          good += ok;
        }
      }
      if (good == 3) return true;
      std::this_thread::sleep_for(200ms);
    }
    return false;
  }

  // The nodes that served request `id` of the node at `port`.
  std::vector<std::string> ServedBy(int port, const std::string& id) {
    rapidjson::Document d = Json(HttpGet(port, "/v1/requests/" + id).body);
    std::vector<std::string> out;
    if (d.HasParseError() || !d.HasMember("served_by")) return out;
    for (const auto& n : d["served_by"].GetArray()) out.push_back(n.GetString());
    return out;
  }

  struct Node {
    std::string name, dir;
    int port = 0, admin = 0;
    std::unique_ptr<HearthdProcess> process;
  };
  std::string root_;
  std::unique_ptr<EtcdProcess> etcd_;
  std::vector<Node> nodes_;
};

TEST_F(ClusterRoutingTest, EveryNodeAnswersEveryModelWithTheTextOfOneNode) {
  // The reference: node-a serving its own warm model (the three are one file, so one text).
  const Answer expected = Generate(nodes_[0].port, "m-a", 7, 24, false);
  ASSERT_TRUE(expected.error.empty()) << expected.error;
  ASSERT_FALSE(expected.text.empty());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    for (size_t j = 0; j < kModels.size(); ++j) {
      for (bool stream : {false, true}) {
        const Answer a = Generate(nodes_[i].port, kModels[j], 7, 24, stream);
        ASSERT_TRUE(a.error.empty()) << nodes_[i].name << " " << kModels[j] << ": " << a.error;
        EXPECT_EQ(a.text, expected.text) << nodes_[i].name << " " << kModels[j] << (stream ? " streamed" : "");
        // Served where the model is warm: forwarded unless that is the entry node itself.
        EXPECT_EQ(ServedBy(nodes_[i].port, a.id), std::vector<std::string>{kNodes[j]})
            << nodes_[i].name << " " << kModels[j];
      }
    }
  }
  // The routing counters of node-a: 2 local (m-a) + the reference, 4 forwarded.
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
  // Uninterrupted references, straight from the node that hosts m-b.
  std::vector<std::string> expected(kStreams);
  for (int k = 0; k < kStreams; ++k) {
    const Answer a = Generate(nodes_[1].port, "m-b", 100 + k, kTokens, false);
    ASSERT_TRUE(a.error.empty()) << a.error;
    expected[k] = a.text;
  }
  // Ten streams enter through node-a; node-b serves them.
  std::vector<Answer> got(kStreams);
  std::vector<std::thread> clients;
  for (int k = 0; k < kStreams; ++k) {
    clients.emplace_back([&, k] { got[k] = Generate(nodes_[0].port, "m-b", 100 + k, kTokens, true); });
  }
  // Once every stream has a few tokens, node-b dies.
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline) {
    rapidjson::Document d = Json(HttpGet(nodes_[0].admin, "/admin/v1/requests?state=running").body);
    int started = 0;
    if (!d.HasParseError() && d.HasMember("data")) {
      for (const auto& r : d["data"].GetArray()) started += r["completion_tokens"].GetInt() >= 3;
    }
    if (started >= kStreams) break;
    std::this_thread::sleep_for(20ms);
  }
  nodes_[1].process->process().Signal(SIGKILL);
  ASSERT_TRUE(nodes_[1].process->process().Wait(10000).has_value());
  for (std::thread& t : clients) t.join();
  for (int k = 0; k < kStreams; ++k) {
    ASSERT_TRUE(got[k].error.empty()) << "stream " << k << ": " << got[k].error;
    EXPECT_EQ(got[k].text, expected[k]) << "stream " << k;
    const std::vector<std::string> served = ServedBy(nodes_[0].port, got[k].id);
    ASSERT_GE(served.size(), 2u) << "stream " << k << " was not taken over";
    EXPECT_EQ(served.front(), "node-b");
    EXPECT_NE(served.back(), "node-b");
  }
  const std::string metrics = HttpGet(nodes_[0].port, "/metrics").body;
  EXPECT_EQ(metrics.find("hearth_cluster_resubmitted_requests_total 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("hearth_cluster_forward_failures_total 0"), std::string::npos) << metrics;
}

TEST_F(ClusterRoutingTest, NodeToNodeCallsNeedTheClusterToken) {
  httplib::Client c("127.0.0.1", nodes_[1].port);
  const std::string body =
      R"({"model":"m-b","prompt":[1,2,3],"max_tokens":4,"priority":0,"stop":[],"sampling":{"temperature":0,)"
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
}

}  // namespace
}  // namespace hearth::testing
