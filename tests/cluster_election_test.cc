// Placement across three hearthd nodes and one etcd on loopback (docs/cluster.md, "Placement
// across nodes"): one leader is elected and every node applies its targets at the leader's
// epoch; the leader stopped (SIGSTOP) past its lease TTL is followed by another with a larger
// epoch, and after SIGCONT its own fenced write is refused and it never applies an older
// epoch's decision, not even one written into etcd behind the leader's back; the leader killed
// (SIGKILL) is followed by another within two lease TTLs, and placement goes on.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "cluster/etcd_client.h"
#include "cluster/node_targets.h"
#include "tests/model_path.h"
#include "tests/test_process.h"

namespace hearth::testing {
namespace {

using namespace std::chrono_literals;

// What a node's admin API says of the placement.
struct Placement {
  bool ok = false;
  std::string leader;
  int64_t epoch = 0;
  bool is_leader = false;
  int64_t applied_epoch = 0;
  int64_t fenced_writes_refused = 0;
  int64_t stale_targets_ignored = 0;
  std::vector<std::string> warm;
  std::string body;
};

Placement Read(int admin_port) {
  Placement p;
  const HttpResult r = HttpGet(admin_port, "/admin/v1/cluster");
  p.body = r.body;
  if (r.status != 200) return p;
  rapidjson::Document d;
  d.Parse(r.body.c_str(), r.body.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("placement")) return p;
  if (d["leader"].IsString()) p.leader = d["leader"].GetString();
  const auto& pl = d["placement"];
  p.epoch = pl["epoch"].GetInt64();
  p.is_leader = pl["is_leader"].GetBool();
  p.applied_epoch = pl["applied_epoch"].GetInt64();
  p.fenced_writes_refused = pl["fenced_writes_refused"].GetInt64();
  p.stale_targets_ignored = pl["stale_targets_ignored"].GetInt64();
  for (const auto& m : pl["warm"].GetArray()) p.warm.push_back(m.GetString());
  p.ok = true;
  return p;
}

template <typename Pred>
bool WaitUntil(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(200ms);
  }
  return pred();
}

class ClusterElectionTest : public ::testing::Test {
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
    client_ = std::make_unique<cluster::EtcdClient>(std::vector<cluster::EtcdEndpoint>{{"127.0.0.1", etcd_->port()}});
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
  // The nodes in `among` agree on one leader, which says it leads, and each applied its epoch:
  // that leader's index.
  int AgreedLeader(const std::vector<int>& among) {
    std::string leader;
    int64_t epoch = 0;
    for (int i : among) {
      const Placement p = Read(nodes_[i].admin);
      if (!p.ok || p.leader.empty() || p.epoch <= 0 || p.applied_epoch != p.epoch) return -1;
      if (!leader.empty() && (p.leader != leader || p.epoch != epoch)) return -1;
      leader = p.leader;
      epoch = p.epoch;
    }
    for (int i : among) {
      if (nodes_[i].name == leader) return Read(nodes_[i].admin).is_leader ? i : -1;
    }
    return -1;
  }
  std::string root_;
  std::unique_ptr<EtcdProcess> etcd_;
  std::unique_ptr<cluster::EtcdClient> client_;
  std::vector<Node> nodes_;
};

TEST_F(ClusterElectionTest, ALeaderPlacesAndIsFollowedWhenStoppedOrKilled) {
  // One leader; every node applies its targets; smollm2's home is node-a (on-demand, already
  // warm, as cheap as node-b and first by name), whose warm targets pin it.
  int leader = -1;
  ASSERT_TRUE(WaitUntil([&] { return (leader = AgreedLeader({0, 1, 2})) >= 0; }, 30s)) << Read(nodes_[0].admin).body;
  const int64_t epoch1 = Read(nodes_[leader].admin).epoch;
  EXPECT_EQ(Read(nodes_[0].admin).warm, std::vector<std::string>{"smollm2"}) << Read(nodes_[0].admin).body;
  EXPECT_TRUE(Read(nodes_[1].admin).warm.empty());
  EXPECT_TRUE(Read(nodes_[2].admin).warm.empty());
  int followers = 0;
  for (const Node& n : nodes_) followers += Read(n.admin).is_leader ? 0 : 1;
  EXPECT_EQ(followers, 2) << "exactly one leader";
  RunResult shown = RunCommand({BinaryPath("hearthctl"), "--url", "http://127.0.0.1:" + std::to_string(nodes_[0].admin),
                                "cluster"});
  EXPECT_NE(shown.out.find("leader " + nodes_[leader].name), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("placement epoch " + std::to_string(epoch1)), std::string::npos) << shown.out;
  // The leader shows the replicas it wants: no load forecast, so one, on node-a.
  RunResult led = RunCommand({BinaryPath("hearthctl"), "--url",
                              "http://127.0.0.1:" + std::to_string(nodes_[leader].admin), "cluster"});
  EXPECT_NE(led.out.find("replicas (foundation+burst wanted): smollm2 1+0 on " + nodes_[0].name + "\n"),
            std::string::npos)
      << led.out;

  // The leader stopped past its lease TTL (10 s): the other two elect another, with a larger
  // epoch, and apply its targets.
  const int stale = leader;
  std::vector<int> others;
  for (int i = 0; i < 3; ++i) {
    if (i != stale) others.push_back(i);
  }
  nodes_[stale].process->process().Signal(SIGSTOP);
  int second = -1;
  ASSERT_TRUE(WaitUntil([&] { return (second = AgreedLeader(others)) >= 0; }, 30s)) << Read(nodes_[others[0]].admin).body;
  const int64_t epoch2 = Read(nodes_[second].admin).epoch;
  EXPECT_GT(epoch2, epoch1);

  // Resumed, the old leader writes once more, fenced: refused. It steps down, rejoins with a
  // new lease, follows the new leader and applies its epoch.
  nodes_[stale].process->process().Signal(SIGCONT);
  ASSERT_TRUE(WaitUntil(
      [&] {
        const Placement p = Read(nodes_[stale].admin);
        return p.ok && !p.is_leader && p.leader == nodes_[second].name && p.applied_epoch == epoch2;
      },
      30s))
      << Read(nodes_[stale].admin).body;
  EXPECT_GE(Read(nodes_[stale].admin).fenced_writes_refused, 1) << Read(nodes_[stale].admin).body;
  // No targets in etcd carry an epoch older than the new leader's.
  StatusOr<cluster::RangeResult> targets = client_->GetPrefix("hearth/targets/");
  ASSERT_TRUE(targets.ok());
  for (const cluster::KeyValue& kv : targets->kvs) {
    StatusOr<cluster::NodeTargets> t = cluster::DecodeNodeTargets(kv.value);
    ASSERT_TRUE(t.ok()) << kv.value;
    EXPECT_GE(t->epoch, epoch2) << kv.key << ": " << kv.value;
  }

  // A decision from the old epoch lands in etcd anyway (as a write delayed in flight would):
  // the node ignores it, counts it, and keeps the newer epoch's targets.
  const std::vector<std::string> warm2 = Read(nodes_[stale].admin).warm;
  cluster::NodeTargets old;
  old.epoch = epoch1;
  old.leader = nodes_[stale].name;
  old.warm = {"smollm2"};
  if (warm2 == old.warm) old.warm.clear();
  for (int i = 0; i < 25; ++i) {  // over two rounds of the node's, though the leader rewrites it
    ASSERT_TRUE(client_->Put("hearth/targets/" + nodes_[stale].name, cluster::EncodeNodeTargets(old)).ok());
    std::this_thread::sleep_for(200ms);
  }
  Placement after = Read(nodes_[stale].admin);
  EXPECT_GE(after.stale_targets_ignored, 1) << after.body;
  EXPECT_EQ(after.applied_epoch, epoch2) << after.body;
  EXPECT_EQ(after.warm, warm2) << after.body;

  // The new leader killed: another is elected within two lease TTLs, and placement goes on at a
  // larger epoch on the nodes left.
  const auto killed_at = std::chrono::steady_clock::now();
  nodes_[second].process->process().Signal(SIGKILL);
  ASSERT_TRUE(nodes_[second].process->process().Wait(10000).has_value());
  std::vector<int> left;
  for (int i = 0; i < 3; ++i) {
    if (i != second) left.push_back(i);
  }
  int third = -1;
  ASSERT_TRUE(WaitUntil([&] { return (third = AgreedLeader(left)) >= 0 && Read(nodes_[third].admin).epoch > epoch2; },
                        30s))
      << Read(nodes_[left[0]].admin).body;
  EXPECT_LT(std::chrono::steady_clock::now() - killed_at, 25s) << "within about two lease TTLs";
  std::vector<std::string> homes;
  for (int i : left) {
    for (const std::string& m : Read(nodes_[i].admin).warm) homes.push_back(m);
  }
  EXPECT_EQ(homes, std::vector<std::string>{"smollm2"}) << "smollm2 still has exactly one home";
  // The killed node's targets go with it once its lease has expired.
  auto targets_of = [&](int i) {
    StatusOr<cluster::RangeResult> r = client_->Get("hearth/targets/" + nodes_[i].name);
    return r.ok() ? static_cast<int>(r->kvs.size()) : -1;
  };
  EXPECT_TRUE(WaitUntil([&] { return targets_of(second) == 0; }, 30s)) << "targets of a node that left stay in etcd";
  EXPECT_EQ(targets_of(third), 1);
}

}  // namespace
}  // namespace hearth::testing
