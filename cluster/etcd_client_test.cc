// The etcd client against a real etcd (Debian's etcd-server) on loopback: leases, puts under a
// lease that vanish when it expires, prefix reads, the fenced put, and errors (an endpoint
// that is down, an unknown lease) as values.
#include "cluster/etcd_client.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "tests/test_process.h"

namespace hearth::cluster {
namespace {

using namespace std::chrono_literals;

TEST(EtcdEndpointTest, ParsesHostAndPortAndRefusesTheRest) {
  StatusOr<EtcdEndpoint> e = ParseEtcdEndpoint("http://127.0.0.1:2379");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 2379);
  EXPECT_EQ(ParseEtcdEndpoint("etcd.local:23790/")->port, 23790);
  for (const char* bad : {"https://h:1", "http://h", "http://h:0", "http://h:99999", "h:x", ":2379", "http://a/b:1"}) {
    EXPECT_FALSE(ParseEtcdEndpoint(bad).ok()) << bad;
  }
}

class EtcdClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::EtcdProcess::available()) GTEST_SKIP() << "no etcd on the PATH (scripts/install-deps adds it)";
    dir_ = testing::TempDir();
    etcd_ = std::make_unique<testing::EtcdProcess>(dir_);
    ASSERT_TRUE(etcd_->Start()) << etcd_->process()->Log();
    client_ = std::make_unique<EtcdClient>(std::vector<EtcdEndpoint>{{"127.0.0.1", etcd_->port()}});
  }
  void TearDown() override {
    if (etcd_) etcd_->Stop();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string dir_;
  std::unique_ptr<testing::EtcdProcess> etcd_;
  std::unique_ptr<EtcdClient> client_;
};

TEST_F(EtcdClientTest, PutGetPrefixAndDelete) {
  const std::string binary("v\0\xff\n", 4);  // any bytes survive base64
  StatusOr<int64_t> rev = client_->Put("hearth/nodes/a", binary);
  ASSERT_TRUE(rev.ok()) << rev.status().ToString();
  EXPECT_GT(*rev, 0);
  ASSERT_TRUE(client_->Put("hearth/nodes/b", "2").ok());
  ASSERT_TRUE(client_->Put("hearth/nodez", "outside").ok());
  StatusOr<RangeResult> one = client_->Get("hearth/nodes/a");
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->kvs.size(), 1u);
  EXPECT_EQ(one->kvs[0].value, binary);
  EXPECT_EQ(one->kvs[0].mod_revision, *rev);
  EXPECT_EQ(one->kvs[0].version, 1);
  StatusOr<RangeResult> all = client_->GetPrefix("hearth/nodes/");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->kvs.size(), 2u);
  EXPECT_EQ(all->kvs[0].key, "hearth/nodes/a");
  EXPECT_EQ(all->kvs[1].key, "hearth/nodes/b");
  EXPECT_GE(all->revision, *rev);
  EXPECT_EQ(*client_->Delete("hearth/nodes/a"), 1);
  EXPECT_EQ(*client_->Delete("hearth/nodes/a"), 0);
  EXPECT_TRUE(client_->Get("hearth/nodes/a")->kvs.empty());
}

TEST_F(EtcdClientTest, KeysUnderALeaseGoWhenItExpires) {
  StatusOr<int64_t> lease = client_->GrantLease(2);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  ASSERT_TRUE(client_->Put("hearth/nodes/n1", "x", *lease).ok());
  EXPECT_EQ(client_->Get("hearth/nodes/n1")->kvs.at(0).lease, *lease);
  // Kept alive, it stays past its TTL.
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(800ms);
    StatusOr<int64_t> ttl = client_->KeepAlive(*lease);
    ASSERT_TRUE(ttl.ok()) << ttl.status().ToString();
    EXPECT_GT(*ttl, 0);
  }
  EXPECT_EQ(client_->Get("hearth/nodes/n1")->kvs.size(), 1u);
  // Left alone, it expires: the key goes, and renewing it is NotFound.
  std::this_thread::sleep_for(3500ms);
  EXPECT_TRUE(client_->Get("hearth/nodes/n1")->kvs.empty());
  EXPECT_EQ(client_->KeepAlive(*lease).status().code(), Status::Code::kNotFound);
  // A lease that never was: a put under it is refused.
  EXPECT_EQ(client_->Put("k", "v", 12345).status().code(), Status::Code::kFailedPrecondition);
}

TEST_F(EtcdClientTest, PutIfModRevisionFencesStaleWriters) {
  StatusOr<bool> created = client_->PutIfModRevision("hearth/targets/n1", "epoch1", 0);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_TRUE(*created);
  EXPECT_FALSE(*client_->PutIfModRevision("hearth/targets/n1", "again", 0)) << "exists now";
  const int64_t seen = client_->Get("hearth/targets/n1")->kvs.at(0).mod_revision;
  EXPECT_TRUE(*client_->PutIfModRevision("hearth/targets/n1", "epoch2", seen));
  // A writer that read before that put decides on a stale view: refused.
  EXPECT_FALSE(*client_->PutIfModRevision("hearth/targets/n1", "stale", seen));
  EXPECT_EQ(client_->Get("hearth/targets/n1")->kvs.at(0).value, "epoch2");
}

TEST_F(EtcdClientTest, AnEndpointThatIsDownIsSkippedAndNoneUpIsUnavailable) {
  const int dead = testing::FreePort();
  EtcdClient both({{"127.0.0.1", dead}, {"127.0.0.1", etcd_->port()}}, 500ms);
  ASSERT_TRUE(both.Put("k", "v").ok());
  EXPECT_EQ(both.Get("k")->kvs.at(0).value, "v");
  etcd_->Stop();
  EXPECT_EQ(both.Get("k").status().code(), Status::Code::kUnavailable);
  ASSERT_TRUE(etcd_->Start());
  EXPECT_EQ(both.Get("k")->kvs.at(0).value, "v") << "the data outlived the restart";
}

}  // namespace
}  // namespace hearth::cluster
