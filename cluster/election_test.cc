// The placement leader's election against a real etcd: one leader among candidates, its epoch
// the create revision of its key; a leader that resigns or whose lease expires is followed by
// another with a larger epoch; a deposed leader's fenced write is refused and it steps down.
#include "cluster/election.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "tests/test_process.h"

namespace hearth::cluster {
namespace {

using namespace std::chrono_literals;

class ElectionTest : public ::testing::Test {
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
  ElectionOptions Options() {
    ElectionOptions o;
    o.name = "hearth/election";
    o.campaign_timeout = 3000ms;
    o.retry = 100ms;
    return o;
  }
  // Waits up to `timeout` for `pred`.
  template <typename Pred>
  static bool WaitFor(Pred pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(50ms);
    }
    return pred();
  }
  std::string dir_;
  std::unique_ptr<testing::EtcdProcess> etcd_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(ElectionTest, TxnComparesCreateRevisionAndPutsAndDeletes) {
  const int64_t rev = *client_->Put("k", "v");
  TxnCompare c;
  c.key = "k";
  c.target = TxnCompare::Target::kCreate;
  c.number = rev;
  StatusOr<TxnResult> ok = client_->Txn({c}, {TxnOp{"a", "1", 0, false}, TxnOp{"b", "2", 0, false}});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(ok->succeeded);
  EXPECT_GT(ok->revision, rev);
  EXPECT_EQ(client_->Get("b")->kvs.at(0).value, "2");
  c.number = rev + 100;
  StatusOr<TxnResult> refused = client_->Txn({c}, {TxnOp{"a", "stale", 0, false}});
  ASSERT_TRUE(refused.ok());
  EXPECT_FALSE(refused->succeeded);
  EXPECT_EQ(client_->Get("a")->kvs.at(0).value, "1");
  // A key that is gone compares as create revision 0; values compare too; deletes.
  c.number = rev;
  ASSERT_EQ(*client_->Delete("k"), 1);
  EXPECT_FALSE(client_->Txn({c}, {TxnOp{"a", "x", 0, false}})->succeeded);
  TxnCompare v;
  v.key = "a";
  v.target = TxnCompare::Target::kValue;
  v.value = "1";
  EXPECT_TRUE(client_->Txn({v}, {TxnOp{"b", "", 0, true}})->succeeded);
  EXPECT_TRUE(client_->Get("b")->kvs.empty());
}

TEST_F(ElectionTest, CampaignLeaderAndResignThroughTheElectionApi) {
  EXPECT_EQ(client_->Leader("hearth/election").status().code(), Status::Code::kNotFound);
  const int64_t lease_a = *client_->GrantLease(10), lease_b = *client_->GrantLease(10);
  StatusOr<LeaderKey> a = client_->Campaign("hearth/election", "node-a", lease_a, 2000ms);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->lease, lease_a);
  EXPECT_GT(a->rev, 0);
  StatusOr<KeyValue> leader = client_->Leader("hearth/election");
  ASSERT_TRUE(leader.ok()) << leader.status().ToString();
  EXPECT_EQ(leader->value, "node-a");
  EXPECT_EQ(leader->create_revision, a->rev);
  // A second candidate blocks while a leads: the deadline gives up, and etcd withdraws it.
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(client_->Campaign("hearth/election", "node-b", lease_b, 700ms).status().code(),
            Status::Code::kUnavailable);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 650ms);
  // Cancelled: it gives up within about 100 ms.
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(200ms);
    cancel = true;
  });
  const auto start2 = std::chrono::steady_clock::now();
  EXPECT_FALSE(client_->Campaign("hearth/election", "node-b", lease_b, 10000ms, [&] { return cancel.load(); }).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start2, 2000ms);
  canceller.join();
  ASSERT_TRUE(client_->Resign(*a).ok());
  EXPECT_EQ(client_->Leader("hearth/election").status().code(), Status::Code::kNotFound);
  StatusOr<LeaderKey> b = client_->Campaign("hearth/election", "node-b", lease_b, 2000ms);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_GT(b->rev, a->rev) << "every later leader has a larger epoch";
}

TEST_F(ElectionTest, OneLeadsAnotherFollowsWhenItsLeaseGoesAndTheDeposedCannotWrite) {
  std::atomic<int64_t> lease_a{*client_->GrantLease(2)}, lease_b{*client_->GrantLease(2)};
  std::atomic<bool> renew_a{true};
  std::atomic<bool> stop{false};
  std::thread renewer([&] {
    while (!stop) {
      if (renew_a) (void)client_->KeepAlive(lease_a);
      (void)client_->KeepAlive(lease_b);
      std::this_thread::sleep_for(300ms);
    }
  });
  Election a(client_.get(), "node-a", [&] { return lease_a.load(); }, Options());
  ASSERT_TRUE(a.CampaignOnce());
  Election b(client_.get(), "node-b", [&] { return lease_b.load(); }, Options());
  b.Start();
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(a.Observe().ok());
  ASSERT_TRUE(b.Observe().ok());
  const ElectionView va = a.view();
  EXPECT_TRUE(va.leading);
  EXPECT_FALSE(b.view().leading);
  EXPECT_EQ(b.view().leader, "node-a");
  EXPECT_EQ(b.view().epoch, va.my_epoch);
  StatusOr<bool> wrote = a.WriteFenced({TxnOp{"hearth/targets/x", "from a", 0, false}});
  ASSERT_TRUE(wrote.ok() && *wrote);
  EXPECT_FALSE(*b.WriteFenced({TxnOp{"hearth/targets/x", "from b", 0, false}})) << "b does not lead";

  // a stops renewing (as if stopped): its lease expires, b is elected with a larger epoch.
  renew_a = false;
  ASSERT_TRUE(WaitFor([&] { return b.view().leading; }, 8000ms));
  EXPECT_GT(b.view().my_epoch, va.my_epoch);
  ASSERT_TRUE(*b.WriteFenced({TxnOp{"hearth/targets/x", "from b", 0, false}}));
  // a still believes it leads until etcd says otherwise: its write is refused.
  EXPECT_TRUE(a.view().leading);
  StatusOr<bool> stale = a.WriteFenced({TxnOp{"hearth/targets/x", "stale a", 0, false}});
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(*stale);
  EXPECT_FALSE(a.view().leading);
  EXPECT_EQ(a.view().fenced_writes_refused, 1);
  EXPECT_EQ(client_->Get("hearth/targets/x")->kvs.at(0).value, "from b");
  ASSERT_TRUE(a.Observe().ok());
  EXPECT_EQ(a.view().leader, "node-b");

  // b stops: it resigns, and a (with a new lease) is elected at once, not a TTL later.
  lease_a = *client_->GrantLease(2);
  renew_a = true;
  a.Start();
  const int64_t b_epoch = b.view().my_epoch;
  b.Stop();
  ASSERT_TRUE(WaitFor([&] { return a.view().leading; }, 3000ms));
  EXPECT_GT(a.view().my_epoch, b_epoch);
  a.Stop();
  stop = true;
  renewer.join();
}

TEST_F(ElectionTest, ObserveStepsDownWhenAnotherKeyLeads) {
  const int64_t lease = *client_->GrantLease(10);
  Election a(client_.get(), "node-a", [&] { return lease; }, Options());
  ASSERT_TRUE(a.CampaignOnce());
  // Someone deletes a's key behind its back (an operator, a compaction of the election): a
  // second candidate leads and a finds out by observing.
  const std::optional<LeaderKey> mine = a.leadership();
  ASSERT_TRUE(mine.has_value());
  const int64_t other = *client_->GrantLease(10);
  ASSERT_EQ(*client_->Delete(mine->key), 1);
  ASSERT_TRUE(client_->Campaign("hearth/election", "node-z", other, 2000ms).ok());
  ASSERT_TRUE(a.Observe().ok());
  EXPECT_FALSE(a.view().leading);
  EXPECT_EQ(a.view().leader, "node-z");
}

}  // namespace
}  // namespace hearth::cluster
