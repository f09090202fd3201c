// Membership against a real etcd: nodes see each other; a clean stop leaves at once; a node
// that stops renewing (as under SIGSTOP) drops out when its lease expires and rejoins with a new
// lease when it runs again; with etcd down a node is degraded and keeps its last view, and it
// rejoins when etcd is back.
#include "cluster/membership.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "tests/test_process.h"

namespace hearth::cluster {
namespace {

using namespace std::chrono_literals;

NodeRecord Node(const std::string& name) {
  NodeRecord r;
  r.name = name;
  r.advertise = "http://127.0.0.1:1";
  r.models = {{"smol", "warm", 1, 0}};
  return r;
}

std::vector<std::string> Names(const MembershipView& v) {
  std::vector<std::string> out;
  for (const Peer& p : v.nodes) out.push_back(p.record.name);
  return out;
}

class MembershipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::EtcdProcess::available()) GTEST_SKIP() << "no etcd on the PATH (scripts/install-deps adds it)";
    dir_ = testing::TempDir();
    etcd_ = std::make_unique<testing::EtcdProcess>(dir_);
    ASSERT_TRUE(etcd_->Start()) << etcd_->process()->Log();
    client_ = std::make_unique<EtcdClient>(std::vector<EtcdEndpoint>{{"127.0.0.1", etcd_->port()}}, 1000ms);
  }
  void TearDown() override {
    if (etcd_) etcd_->Stop();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  MembershipOptions Options() {
    MembershipOptions o;
    o.ttl_seconds = 2;
    o.tick = 200ms;
    return o;
  }
  std::string dir_;
  std::unique_ptr<testing::EtcdProcess> etcd_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(MembershipTest, NodesSeeEachOtherAndACleanStopLeavesAtOnce) {
  Membership a(client_.get(), [] { return Node("a"); }, Options());
  std::string b_state = "warm";
  std::mutex mu;
  Membership b(client_.get(), [&] {
    std::lock_guard<std::mutex> lock(mu);
    NodeRecord r = Node("b");
    r.models[0].state = b_state;
    return r;
  }, Options());
  a.Tick();
  b.Tick();
  a.Tick();
  MembershipView v = a.view();
  EXPECT_TRUE(v.has_lease);
  EXPECT_TRUE(v.etcd_reachable);
  EXPECT_GT(v.lease_granted_at, 0);
  EXPECT_EQ(Names(v), (std::vector<std::string>{"a", "b"}));
  // The first read took every record; the next only b's, new since.
  EXPECT_EQ(v.full_reads, 1);
  EXPECT_EQ(v.incremental_reads, 1);
  // A change in b's record is published at its next tick, and read as a change.
  {
    std::lock_guard<std::mutex> lock(mu);
    b_state = "staged";
  }
  b.Tick();
  a.Tick();
  EXPECT_EQ(a.view().nodes.at(1).record.models.at(0).state, "staged");
  EXPECT_EQ(a.view().full_reads, 1);
  // Garbage under the prefix is not a node.
  ASSERT_TRUE(client_->Put("hearth/nodes/x", "{not json").ok());
  a.Tick();
  EXPECT_EQ(a.view().invalid_records, 1);
  EXPECT_EQ(Names(a.view()), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(a.view().full_reads, 1);
  b.Stop();  // revokes its lease: gone before any TTL
  a.Tick();
  EXPECT_EQ(Names(a.view()), (std::vector<std::string>{"a"}));
  EXPECT_EQ(a.view().full_reads, 2) << "a deletion shows only in a full read";
  // Deleted and written again in between two reads: still seen.
  ASSERT_TRUE(client_->Delete("hearth/nodes/x").ok());
  ASSERT_TRUE(client_->Put("hearth/nodes/y", "{not json either").ok());
  a.Tick();
  EXPECT_EQ(a.view().invalid_records, 1);
  EXPECT_EQ(a.view().full_reads, 3) << "the count at the read's revision shows the deletion";
  a.Tick();
  a.Tick();
  EXPECT_EQ(a.view().full_reads, 3) << "a steady cluster reads only what changed";
  EXPECT_EQ(Names(a.view()), (std::vector<std::string>{"a"}));
}

TEST_F(MembershipTest, ANodeThatStopsRenewingDropsOutAndRejoinsWithANewLease) {
  Membership a(client_.get(), [] { return Node("a"); }, Options());
  Membership b(client_.get(), [] { return Node("b"); }, Options());
  a.Tick();
  b.Tick();
  const int64_t first_lease = b.view().lease;
  a.Start();
  // b is frozen: no tick for longer than its TTL.
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(Names(a.view()), (std::vector<std::string>{"a"})) << "b's lease expired";
  // b runs again: its first tick finds no lease and takes no routed work; then a new lease.
  b.Tick();
  MembershipView v = b.view();
  EXPECT_TRUE(v.has_lease);
  EXPECT_NE(v.lease, first_lease);
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(Names(a.view()), (std::vector<std::string>{"a", "b"}));
}

TEST_F(MembershipTest, WithEtcdDownANodeIsDegradedAndKeepsItsViewThenRejoins) {
  Membership a(client_.get(), [] { return Node("a"); }, Options());
  Membership b(client_.get(), [] { return Node("b"); }, Options());
  a.Tick();
  b.Tick();
  a.Tick();
  etcd_->Stop();
  a.Tick();
  MembershipView v = a.view();
  EXPECT_FALSE(v.etcd_reachable);
  EXPECT_FALSE(v.last_error.empty());
  EXPECT_EQ(Names(v), (std::vector<std::string>{"a", "b"})) << "the last view stays";
  EXPECT_GT(a.etcd_errors(), 0);
  ASSERT_TRUE(etcd_->Start());
  // Past the TTL the old leases are gone or going; each node gets one again and publishes.
  std::this_thread::sleep_for(2500ms);
  for (int i = 0; i < 3; ++i) {
    a.Tick();
    b.Tick();
  }
  v = a.view();
  EXPECT_TRUE(v.etcd_reachable);
  EXPECT_TRUE(v.has_lease);
  EXPECT_EQ(Names(v), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace hearth::cluster
