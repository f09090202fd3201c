#include "cli/cluster_views.h"

#include <gtest/gtest.h>

namespace hearth::cli {
namespace {

const char* kCluster = R"({"enabled":true,"node":"a","state":"degraded","reason":"etcd unreachable",
 "lease":{"id":"7","held":true,"age_seconds":12,"ttl_seconds":10},
 "etcd":{"endpoints":["http://127.0.0.1:2379"],"reachable":false,"last_error":"x","errors":3,"revision":9},
 "leader":null,"invalid_records":0,
 "nodes":[{"name":"a","self":true,"advertise":"http://10.0.0.1:8080","admin":"","instance":"spot",
           "price_per_hour":0.35,"lease_age_seconds":12,"workers":1,"models":[{"name":"smol","state":"warm"},
           {"name":"big","state":"staged"}]},
          {"name":"b","self":false,"draining":true,"advertise":"http://10.0.0.2:9000","admin":"","instance":"on-demand",
           "price_per_hour":1.2,"lease_age_seconds":300,"workers":1,"models":[]}]})";

TEST(ClusterViewsTest, ListShowsStandingAndEveryNode) {
  StatusOr<std::string> out = RenderCluster(kCluster);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_NE(out->find("node a: degraded (etcd unreachable)"), std::string::npos) << *out;
  EXPECT_NE(out->find("lease held, 12 s old; etcd unreachable, 3 errors; leader none"), std::string::npos) << *out;
  EXPECT_NE(out->find("a (this)"), std::string::npos) << *out;
  EXPECT_NE(out->find("b draining"), std::string::npos) << *out;
  EXPECT_EQ(out->find("a (this) draining"), std::string::npos) << *out;
  EXPECT_NE(out->find("smol:warm big:staged"), std::string::npos) << *out;
  EXPECT_NE(out->find("0.35"), std::string::npos) << *out;
  EXPECT_NE(out->find("300s"), std::string::npos) << *out;
  EXPECT_EQ(out->find("placement epoch"), std::string::npos) << "no placement object: no line";
  EXPECT_NE(RenderCluster(R"({"enabled":false,"nodes":[]})")->find("no cluster"), std::string::npos);
  EXPECT_FALSE(RenderCluster("{}").ok());
  EXPECT_FALSE(RenderCluster("[").ok());
}

TEST(ClusterViewsTest, ListShowsTheLeaderAndThePlacement) {
  std::string json = kCluster;
  json.replace(json.find("\"leader\":null"), 13,
               R"("leader":"a","placement":{"epoch":12,"is_leader":true,"elected":1,"fenced_writes_refused":2,)"
               R"("applied_epoch":12,"applied_leader":"a","warm":["smol"],"staged":[],"stale_targets_ignored":1,)"
               R"("invalid_targets":0,"unplaced":[],"replicas":[{"model":"smol","foundation":2,"burst":1,)"
               R"("nodes":["a","b","c"]},{"model":"big","foundation":1,"burst":0,"nodes":["a"]}],"last_error":null})");
  StatusOr<std::string> out = RenderCluster(json);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_NE(out->find("3 errors; leader a\n"), std::string::npos) << *out;
  EXPECT_NE(out->find("replicas (foundation+burst wanted): smol 2+1 on a,b,c; big 1+0 on a\n"), std::string::npos)
      << *out;
  EXPECT_NE(out->find("placement epoch 12 (this node leads); applied epoch 12: warm smol staged -; 1 stale targets "
                      "ignored, 2 fenced writes refused\n"),
            std::string::npos)
      << *out;
}

// docs/cluster.md, "What it costs": this node's hours since hearthd started, a peer's since its
// lease was granted; cost = price x hours.
TEST(ClusterViewsTest, ListShowsHoursAndCostPerNode) {
  std::string json = kCluster;
  json.replace(json.find("\"invalid_records\":0"), 19,
               R"("invalid_records":0,"cost":{"price_per_hour":0.35,"uptime_seconds":9000.0,"node_hours":2.5,)"
               R"("dollars":0.875,"tokens_generated":350000.0,"dollars_per_million_tokens":2.5})");
  StatusOr<std::string> out = RenderCluster(json);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_NE(out->find("cost: 2.50 node-hours at 0.35/h since hearthd started = $0.8750; $2.5000 per million "
                      "generated tokens (350000 tokens)\n"),
            std::string::npos)
      << *out;
  EXPECT_NE(out->find("HOURS"), std::string::npos) << *out;
  // a (this): 2.5 h from its uptime, not its 12 s lease; b: 300 s of lease at 1.2/h.
  EXPECT_NE(out->find("2.50   $0.8750"), std::string::npos) << *out;
  EXPECT_NE(out->find("0.08   $0.1000"), std::string::npos) << *out;
  EXPECT_NE(out->find("cluster cost so far: $0.9750 over 2 nodes\n"), std::string::npos) << *out;

  // An answer without "cost" (an older daemon): every node by its lease age, no cost line.
  out = RenderCluster(kCluster);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->find("cost:"), std::string::npos) << *out;
  EXPECT_NE(out->find("0.00   $0.0012"), std::string::npos) << *out;  // 12 s at 0.35/h
  EXPECT_NE(out->find("cluster cost so far: $0.1012 over 2 nodes\n"), std::string::npos) << *out;
}

TEST(ClusterViewsTest, TargetsAreAPrometheusFileSdList) {
  StatusOr<std::string> out = ClusterTargets(kCluster);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out,
            R"([{"targets":["10.0.0.1:8080"],"labels":{"node":"a","instance_type":"spot"}},)"
            R"({"targets":["10.0.0.2:9000"],"labels":{"node":"b","instance_type":"on-demand"}}])"
            "\n");
}

}  // namespace
}  // namespace hearth::cli
