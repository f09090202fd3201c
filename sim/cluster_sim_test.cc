#include "sim/cluster_sim.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "sim/sim_report.h"

namespace hearth::sim {
namespace {

// Two models of 1 GB, each loaded from disk in 1 s; every step takes 10 ms.
Scenario Small(int32_t nodes, int32_t gpus, uint64_t gpu_memory) {
  auto s = ParseScenario(R"({
    "seed": 3,
    "nodes": [{"name": "n", "count": 1, "gpus": 1, "gpu_memory_bytes": 1, "price_per_hour": 2}],
    "models": [{"name": "m", "count": 2, "weight_bytes": 1e9, "kv_bytes_per_token": 1000,
                "kv_cache_bytes": 16e6}],
    "arrivals": {"traces": ["unused"]},
    "time": {"kind": "profile", "profile": [[1, 10], [4096, 10]],
             "load": {"bytes_per_s": 1e9}, "swap_in": {"bytes_per_s": 1e10}},
    "policy": {"placement": "lru"}
  })");
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  s->nodes[0].count = nodes;
  s->nodes[0].gpus = gpus;
  s->nodes[0].gpu_memory_bytes = gpu_memory;
  return *s;
}

TEST(ClusterSimTest, OneColdRequestTakesTheLoadAndItsSteps) {
  const Scenario s = Small(1, 1, 4'000'000'000);
  const std::vector<SimArrival> arrivals = {{0, 0, 32, 4}};
  auto r = RunSimulation(s, arrivals, {}, 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->requests.size(), 1u);
  const RequestOutcome& o = r->requests[0];
  EXPECT_TRUE(o.cold_start);
  // 1 s load, one 10 ms step for the prompt (its first token), three 10 ms decodes.
  EXPECT_EQ(o.first_token_ns, 1'010'000'000);
  EXPECT_EQ(o.finished_ns, 1'040'000'000);
  EXPECT_EQ(o.delivered, 4);
  EXPECT_EQ(r->counters.loads, 1);
  EXPECT_EQ(r->counters.steps, 4);
  EXPECT_EQ(r->counters.scheduled_tokens, 32 + 3);
}

TEST(ClusterSimTest, LruEvictsWhenOnlyOneModelFits) {
  const Scenario s = Small(1, 1, 1'100'000'000);  // one model (1 GB + 16 MB KV) at a time
  const std::vector<SimArrival> arrivals = {
      {0, 0, 16, 2}, {2'000'000'000, 1, 16, 2}, {4'000'000'000, 0, 16, 2}, {4'100'000'000, 0, 16, 2}};
  auto r = RunSimulation(s, arrivals, {}, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->counters.loads, 3);
  EXPECT_EQ(r->counters.evictions, 2);
  for (const auto& o : r->requests) EXPECT_GE(o.finished_ns, 0);
  EXPECT_TRUE(r->requests[2].cold_start);
  EXPECT_FALSE(r->requests[3].cold_start);  // already warm (or loading) for the one before
}

TEST(ClusterSimTest, ADrainingModelAdmitsNothingNewSoTheColdOneGetsIn) {
  const Scenario s = Small(1, 1, 1'100'000'000);  // one model at a time
  std::vector<SimArrival> arrivals;
  // Model 0 is never idle by itself: a 5-token request every 20 ms for 10 s.
  for (int i = 0; i < 500; ++i) arrivals.push_back({20'000'000LL * i, 0, 16, 5});
  arrivals.push_back({2'000'000'000, 1, 16, 2});
  std::sort(arrivals.begin(), arrivals.end(),
            [](const SimArrival& a, const SimArrival& b) { return a.at_ns < b.at_ns; });
  auto r = RunSimulation(s, arrivals, {}, 0);
  ASSERT_TRUE(r.ok());
  for (const auto& o : r->requests) ASSERT_GE(o.finished_ns, 0);
  const auto it = std::find_if(r->requests.begin(), r->requests.end(), [](const auto& o) { return o.model == 1; });
  ASSERT_NE(it, r->requests.end());
  // Model 0 drains (its running requests finish within a few steps), then model 1 loads (1 s):
  // served within about a second and a half, not after model 0's stream ends at 10 s.
  EXPECT_LT(it->first_token_ns - it->arrival_ns, 1'500'000'000);
  EXPECT_GE(r->counters.evictions, 1);
}

TEST(ClusterSimTest, RoutingPrefersTheWarmNode) {
  const Scenario s = Small(3, 1, 4'000'000'000);
  std::vector<SimArrival> arrivals;
  for (int i = 0; i < 20; ++i) arrivals.push_back({5'000'000'000LL * i, 0, 16, 2});
  auto r = RunSimulation(s, arrivals, {}, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->counters.loads, 1);  // never cold again: one node keeps it warm
  EXPECT_EQ(r->requests[0].first_token_ns, 1'010'000'000);
  EXPECT_EQ(r->requests[5].first_token_ns - r->requests[5].arrival_ns, 10'000'000);
}

Scenario SpotScenario(PreemptionPolicy p) {
  Scenario s = Small(1, 1, 4'000'000'000);
  NodeGroup spot = s.nodes[0];
  spot.name = "spot";
  spot.spot = true;
  spot.count = 2;
  spot.price_per_hour = 1;
  s.nodes[0].count = 0;
  s.nodes.push_back(spot);
  s.policy.preemption = p;
  s.spot.notice_s = 0.5;
  return s;
}

std::vector<SimArrival> Steady(int n) {
  std::vector<SimArrival> a;
  for (int i = 0; i < n; ++i) a.push_back({100'000'000LL * i, i % 2, 64, 50});
  return a;
}

TEST(ClusterSimTest, RestartRegeneratesWhatAPreemptedNodeHeld) {
  const Scenario s = SpotScenario(PreemptionPolicy::kRestart);
  // Both nodes up; one is taken back at 3 s and a fresh one joins at 6 s.
  auto r = RunSimulation(s, Steady(80), {{3'000'000'000, -1}, {6'000'000'000, 1}}, 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->counters.preemptions, 1);
  int64_t restarts = 0, migrations = 0;
  for (const auto& o : r->requests) {
    EXPECT_GE(o.finished_ns, 0);
    EXPECT_EQ(o.delivered, 50);
    restarts += o.restarts;
    migrations += o.migrations;
  }
  EXPECT_GT(restarts, 0);
  EXPECT_EQ(migrations, 0);
}

TEST(ClusterSimTest, MigrationMovesRequestsWithTheirTokens) {
  const Scenario s = SpotScenario(PreemptionPolicy::kMigrate);
  auto r = RunSimulation(s, Steady(80), {{3'000'000'000, -1}, {6'000'000'000, 1}}, 2);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->counters.preemptions, 1);
  EXPECT_GE(r->counters.migrated_models, 1);
  int64_t restarts = 0, migrations = 0;
  for (const auto& o : r->requests) {
    EXPECT_GE(o.finished_ns, 0);
    EXPECT_EQ(o.delivered, 50);
    restarts += o.restarts;
    migrations += o.migrations;
  }
  EXPECT_EQ(restarts, 0);
  EXPECT_GT(migrations, 0);
}

TEST(ClusterSimTest, ClusterPlacementStartsHomesWarmAndAddsReplicasForLoad) {
  Scenario s = Small(4, 1, 4'000'000'000);
  s.policy.cluster_placement = true;
  s.policy.placement = PlacementPolicy::kForecast;
  s.policy.window_s = 2;
  s.scheduler.max_num_seqs = 8;  // the batch size B of the replica count
  std::vector<SimArrival> arrivals;
  // Model 0 has tens of requests in flight (each 100 tokens at 10 ms a step, 8 at a time):
  // more than one replica's B.
  for (int i = 0; i < 1000; ++i) arrivals.push_back({40'000'000LL * i, 0, 16, 100});
  arrivals.push_back({0, 1, 16, 2});
  auto r = RunSimulation(s, arrivals, {}, 0);
  ASSERT_TRUE(r.ok());
  // Both models were warm before the first request: no cold start for either at t = 0.
  EXPECT_FALSE(r->requests[0].cold_start);
  EXPECT_EQ(r->requests[0].first_token_ns, 10'000'000);
  // The forecast asks for more replicas of model 0: more loads than the start-up fill's.
  EXPECT_GT(r->counters.loads, 2);
  for (const auto& o : r->requests) EXPECT_GE(o.finished_ns, 0);
}

TEST(ClusterSimTest, StartupFillWarmsEveryNodeInRotatedModelOrder) {
  Scenario s = Small(2, 1, 2'100'000'000);  // two of the three models fit each GPU
  s.models.push_back(s.models[1]);
  s.models[2].name = "m-2";
  s.policy.startup_fill = true;
  const std::vector<SimArrival> arrivals = {{0, 0, 16, 2}, {0, 1, 16, 2}, {0, 2, 16, 2}};
  auto r = RunSimulation(s, arrivals, {}, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->counters.loads, 4);  // node 0: models 0 and 1; node 1: models 1 and 2
  EXPECT_FALSE(r->requests[0].cold_start);
  EXPECT_FALSE(r->requests[1].cold_start);
  EXPECT_FALSE(r->requests[2].cold_start);
}

TEST(ClusterSimTest, SameScenarioGivesTheSameBytes) {
  Scenario s = SpotScenario(PreemptionPolicy::kMigrate);
  s.policy.placement = PlacementPolicy::kForecast;
  s.policy.window_s = 1;
  s.nodes[1].gpus = 2;
  s.nodes[1].gpu_memory_bytes = 1'100'000'000;
  s.nodes[1].staged_bytes = 1'000'000'000;
  const auto arrivals = Steady(300);
  const std::vector<SpotChange> spot = {{5'000'000'000, -1}, {9'000'000'000, 1}, {15'000'000'000, -1}};
  auto a = RunSimulation(s, arrivals, spot, 2);
  auto b = RunSimulation(s, arrivals, spot, 2);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_GT(a->counters.steps, 100);
  EXPECT_EQ(ReportJson(s, *a), ReportJson(s, *b));
}

}  // namespace
}  // namespace hearth::sim
