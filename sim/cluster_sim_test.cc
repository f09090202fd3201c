#include "sim/cluster_sim.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <tuple>

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

// Decode runs (several plain steps of a GPU as one event) must change nothing but the speed:
// the report of each scenario below is byte for byte the step-by-step one. The scenarios mix
// what cuts a run short: arrivals to a busy GPU, two models stepping in turn on one GPU, KV
// pools small enough for the scheduler to preempt, loads and evictions, spot notices and
// removals under both policies, the forecaster's prewarm and the drain limit.
// Every figure exactly, not only the report's rounded percentiles.
void ExpectSameResult(const SimResult& a, const SimResult& b, const std::string& name) {
  ASSERT_EQ(a.requests.size(), b.requests.size()) << name;
  for (size_t i = 0; i < a.requests.size(); ++i) {
    const RequestOutcome& x = a.requests[i];
    const RequestOutcome& y = b.requests[i];
    EXPECT_EQ(std::tie(x.first_token_ns, x.last_token_ns, x.finished_ns, x.delivered, x.cold_start, x.swap_in,
                       x.restarts, x.migrations),
              std::tie(y.first_token_ns, y.last_token_ns, y.finished_ns, y.delivered, y.cold_start, y.swap_in,
                       y.restarts, y.migrations))
        << name << ": request " << i;
  }
  const SimCounters& c = a.counters;
  const SimCounters& d = b.counters;
  EXPECT_EQ(std::tie(c.events, c.steps, c.scheduled_tokens, c.loads, c.swap_ins, c.evictions, c.prewarm_actions,
                     c.preemptions, c.migrated_models, c.scheduler_preemptions, c.gpu_hours, c.busy_gpu_hours, c.cost),
            std::tie(d.events, d.steps, d.scheduled_tokens, d.loads, d.swap_ins, d.evictions, d.prewarm_actions,
                     d.preemptions, d.migrated_models, d.scheduler_preemptions, d.gpu_hours, d.busy_gpu_hours, d.cost))
      << name;
  ASSERT_EQ(a.cost_over_time.size(), b.cost_over_time.size()) << name;
  for (size_t i = 0; i < a.cost_over_time.size(); ++i) {
    EXPECT_EQ(a.cost_over_time[i].cost, b.cost_over_time[i].cost) << name << ": minute " << i;
    EXPECT_EQ(a.cost_over_time[i].nodes, b.cost_over_time[i].nodes) << name << ": minute " << i;
  }
  EXPECT_EQ(a.end_ns, b.end_ns) << name;
}

struct EquivalenceCase {
  const char* name;
  PreemptionPolicy preemption;
  PlacementPolicy placement;
  uint64_t kv_cache_bytes;
  double rate;  // requests per second
  bool cluster = false;
};

std::vector<SimArrival> RandomArrivals(uint32_t seed, double rate, int32_t models, double seconds) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> gap(rate);
  std::vector<SimArrival> a;
  for (double t = gap(rng); t < seconds; t += gap(rng)) {
    const int32_t model = static_cast<int32_t>(rng() % 7) < 4 ? 0 : static_cast<int32_t>(rng() % models);
    a.push_back({static_cast<int64_t>(t * 1e9), model, 8 + static_cast<int32_t>(rng() % 300),
                 1 + static_cast<int32_t>(rng() % 120)});
  }
  return a;
}

TEST(ClusterSimTest, DecodeRunsGiveTheStepByStepReport) {
  const std::vector<EquivalenceCase> cases = {
      {"migrate", PreemptionPolicy::kMigrate, PlacementPolicy::kForecast, 16'000'000, 30},
      {"restart", PreemptionPolicy::kRestart, PlacementPolicy::kLru, 16'000'000, 30},
      {"small kv", PreemptionPolicy::kMigrate, PlacementPolicy::kLru, 2'000'000, 20},
      {"cluster", PreemptionPolicy::kMigrate, PlacementPolicy::kForecast, 16'000'000, 40, true},
  };
  for (const EquivalenceCase& c : cases) {
    Scenario s = Small(2, 2, 2'100'000'000);  // two models a GPU
    for (int k = 2; k < 5; ++k) {
      s.models.push_back(s.models[1]);
      s.models.back().name = "m-" + std::to_string(k);
    }
    for (auto& m : s.models) m.kv_cache_bytes = c.kv_cache_bytes;
    // Roofline: a step's time grows with its context, so every step of a run differs.
    s.time.roofline = true;
    s.time.roofline_params.hbm_bytes_per_s = 2e12;
    s.time.roofline_params.peak_flops = 1e14;
    s.models[0].params = 2e9;
    s.models[0].kv_bytes_per_token = 400'000;
    NodeGroup spot = s.nodes[0];
    spot.name = "spot";
    spot.spot = true;
    s.nodes.push_back(spot);
    s.scheduler.max_num_seqs = 8;
    s.scheduler.token_budget = 256;
    s.policy.preemption = c.preemption;
    s.policy.placement = c.placement;
    s.policy.cluster_placement = c.cluster;
    s.policy.window_s = 2;
    s.spot.notice_s = 0.5;
    const auto arrivals = RandomArrivals(7, c.rate, static_cast<int32_t>(s.models.size()), 12);
    const std::vector<SpotChange> spot_changes = {{3'000'000'000, -1}, {5'000'000'000, 1}, {8'000'000'000, -1}};
    auto runs = RunSimulation(s, arrivals, spot_changes, 2);
    RunOptions one_by_one;
    one_by_one.step_by_step = true;
    auto steps = RunSimulation(s, arrivals, spot_changes, 2, nullptr, one_by_one);
    ASSERT_TRUE(runs.ok() && steps.ok()) << c.name;
    EXPECT_EQ(ReportJson(s, *runs), ReportJson(s, *steps)) << c.name;
    ExpectSameResult(*runs, *steps, c.name);
    EXPECT_EQ(steps->handled_events, steps->counters.events) << c.name;
    // The runs did take several steps at a time.
    EXPECT_LT(runs->handled_events * 2, steps->handled_events) << c.name;
    EXPECT_GT(steps->counters.steps, 1000) << c.name;
  }
}

// A run in flight at the drain limit: the steps it finished by then count, as step by step.
TEST(ClusterSimTest, DecodeRunsStopAtTheDrainLimitAsStepsDo) {
  Scenario s = Small(1, 1, 4'000'000'000);
  s.time.profile = {{1, 1000}, {4096, 1000}};  // 1 s a step: 700 steps outlast the ten minutes
  const std::vector<SimArrival> arrivals = {{0, 0, 16, 700}, {0, 0, 16, 900}};
  RunOptions one_by_one;
  one_by_one.step_by_step = true;
  auto runs = RunSimulation(s, arrivals, {}, 0);
  auto steps = RunSimulation(s, arrivals, {}, 0, nullptr, one_by_one);
  ASSERT_TRUE(runs.ok() && steps.ok());
  EXPECT_EQ(ReportJson(s, *runs), ReportJson(s, *steps));
  ExpectSameResult(*runs, *steps, "drain");
  EXPECT_EQ(runs->requests[0].finished_ns, -1);
  EXPECT_GT(runs->counters.steps, 500);
  EXPECT_LT(runs->handled_events, 10);
}

}  // namespace
}  // namespace hearth::sim
