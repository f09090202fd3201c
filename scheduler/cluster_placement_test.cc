// The placement across nodes: every model warm on one node where it fits, kept where it is
// warm, on on-demand before spot, cheaper nodes first, staged copies elsewhere, deterministic.
#include "scheduler/cluster_placement.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace hearth::scheduler {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;

ClusterNode Node(const std::string& name, bool spot, double price, uint64_t budget, std::vector<ClusterModel> models) {
  ClusterNode n;
  n.name = name;
  n.spot = spot;
  n.price_per_hour = price;
  n.memory_budget_bytes = budget;
  n.models = std::move(models);
  return n;
}

ClusterModel Cold(const std::string& name, uint64_t bytes) { return {name, false, false, false, bytes}; }
ClusterModel Warm(const std::string& name, uint64_t bytes) { return {name, true, false, false, bytes}; }
ClusterModel Home(const std::string& name, uint64_t bytes) { return {name, true, false, true, bytes}; }

const ClusterNodePlan& PlanOf(const ClusterPlan& p, const std::string& node) {
  for (const ClusterNodePlan& n : p.nodes) {
    if (n.node == node) return n;
  }
  static const ClusterNodePlan none;
  ADD_FAILURE() << "no plan for " << node;
  return none;
}

using Names = std::vector<std::string>;

TEST(ClusterPlacementTest, EveryModelGetsOneHomeAndWarmCopiesStayWhereTheyAre) {
  // "b" is warm on node-2 only: it stays there even though node-1 is cheaper.
  const ClusterPlan p = PlanClusterPlacement({
      Node("node-1", false, 1.0, 4 * kGiB, {Cold("a", kGiB), Cold("b", kGiB)}),
      Node("node-2", false, 2.0, 4 * kGiB, {Cold("a", kGiB), Warm("b", kGiB)}),
  });
  EXPECT_EQ(PlanOf(p, "node-1").warm, Names{"a"}) << "cold everywhere: the cheaper node";
  EXPECT_EQ(PlanOf(p, "node-2").warm, Names{"b"}) << "already warm: no churn";
  EXPECT_TRUE(p.unplaced.empty());
}

TEST(ClusterPlacementTest, AHomeStaysWhereItIsWhenOtherCopiesAreWarmToo) {
  // Warm on both: the current home keeps it, though node-1 is cheaper and first by name.
  const ClusterPlan p = PlanClusterPlacement({
      Node("node-1", false, 1.0, 0, {Warm("m", kGiB)}),
      Node("node-2", false, 2.0, 0, {Home("m", kGiB)}),
  });
  EXPECT_EQ(PlanOf(p, "node-2").warm, Names{"m"});
  EXPECT_TRUE(PlanOf(p, "node-1").warm.empty());
  // A home that is no longer warm (evicted, restarted) counts for nothing.
  const ClusterPlan q = PlanClusterPlacement({
      Node("node-1", false, 1.0, 0, {Warm("m", kGiB)}),
      Node("node-2", false, 2.0, 0, {{"m", false, false, true, kGiB}}),
  });
  EXPECT_EQ(PlanOf(q, "node-1").warm, Names{"m"});
}

TEST(ClusterPlacementTest, AModelsOnlyReplicaGoesOnDemandBeforeSpot) {
  // Warm only on the cheap spot node: its home moves to the on-demand node.
  const ClusterPlan p = PlanClusterPlacement({
      Node("spot-1", true, 0.3, 0, {Warm("m", kGiB)}),
      Node("od-1", false, 1.0, 0, {Cold("m", kGiB)}),
  });
  EXPECT_EQ(PlanOf(p, "od-1").warm, Names{"m"});
  EXPECT_TRUE(PlanOf(p, "spot-1").warm.empty());
  // With only spot nodes, the cheaper spot node.
  const ClusterPlan q = PlanClusterPlacement({
      Node("spot-1", true, 0.5, 0, {Cold("m", kGiB)}),
      Node("spot-2", true, 0.3, 0, {Cold("m", kGiB)}),
  });
  EXPECT_EQ(PlanOf(q, "spot-2").warm, Names{"m"});
}

TEST(ClusterPlacementTest, ModelsGoWhereTheyFitAndOnlyWhereRegistered) {
  // node-1 holds 3 GiB: the 2 GiB model takes it, the other 2 GiB model goes to node-2 though
  // node-1 is cheaper; "solo" is registered on node-2 only; "huge" fits no worker.
  const ClusterPlan p = PlanClusterPlacement({
      Node("node-1", false, 1.0, 3 * kGiB, {Cold("x", 2 * kGiB), Cold("y", 2 * kGiB), Cold("huge", 9 * kGiB)}),
      Node("node-2", false, 5.0, 4 * kGiB, {Cold("x", 2 * kGiB), Cold("y", 2 * kGiB), Cold("solo", kGiB)}),
  });
  EXPECT_EQ(PlanOf(p, "node-1").warm, Names{"x"});
  EXPECT_EQ(PlanOf(p, "node-2").warm, (Names{"solo", "y"}));
  EXPECT_EQ(p.unplaced, Names{"huge"});
  // Budgets count per worker: two workers of 2 GiB hold both 2 GiB models, not a 3 GiB one.
  ClusterNode two = Node("two", false, 1.0, 2 * kGiB, {Cold("x", 2 * kGiB), Cold("y", 2 * kGiB), Cold("z", 3 * kGiB)});
  two.workers = 2;
  const ClusterPlan q = PlanClusterPlacement({two});
  EXPECT_EQ(PlanOf(q, "two").warm, (Names{"x", "y"}));
  EXPECT_EQ(q.unplaced, Names{"z"});
}

TEST(ClusterPlacementTest, StagedCopiesGoToAnotherNodeWithStaging) {
  ClusterNode a = Node("a", false, 1.0, 0, {Warm("m", kGiB), Cold("n", kGiB)});
  ClusterNode b = Node("b", false, 2.0, 0, {Cold("m", kGiB), Cold("n", kGiB)});
  ClusterNode c = Node("c", true, 0.1, 0, {Cold("m", kGiB), {"n", false, true, false, kGiB}});
  b.staged_budget_bytes = kGiB;
  c.staged_budget_bytes = 4 * kGiB;
  const ClusterPlan p = PlanClusterPlacement({a, b, c});
  EXPECT_EQ(PlanOf(p, "a").warm, (Names{"m", "n"}));
  // b is on-demand: the copy of "m" goes there, which fills its staged budget; "n" is already
  // staged on c.
  EXPECT_EQ(PlanOf(p, "b").staged, Names{"m"});
  EXPECT_EQ(PlanOf(p, "c").staged, Names{"n"});
  EXPECT_TRUE(PlanOf(p, "a").staged.empty()) << "never staged where it is the home";
}

TEST(ClusterPlacementTest, TheSameNodesInAnyOrderGiveTheSamePlan) {
  std::vector<ClusterNode> nodes = {
      Node("n3", false, 1.0, 2 * kGiB, {Cold("a", kGiB), Cold("b", kGiB), Cold("c", kGiB)}),
      Node("n1", false, 1.0, 2 * kGiB, {Cold("a", kGiB), Cold("b", kGiB), Cold("c", kGiB)}),
      Node("n2", false, 1.0, 2 * kGiB, {Cold("a", kGiB), Cold("b", kGiB), Cold("c", kGiB)}),
  };
  const ClusterPlan first = PlanClusterPlacement(nodes);
  std::reverse(nodes.begin(), nodes.end());
  const ClusterPlan second = PlanClusterPlacement(nodes);
  ASSERT_EQ(first.nodes.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(first.nodes[i].node, second.nodes[i].node);
    EXPECT_EQ(first.nodes[i].warm, second.nodes[i].warm);
  }
  // Equal nodes: the one with more room left takes the next model, so the three spread out.
  for (const ClusterNodePlan& n : first.nodes) EXPECT_EQ(n.warm.size(), 1u) << n.node;
}

ClusterModel Forecast(const std::string& name, uint64_t bytes, double avg, double peak, int32_t batch = 32) {
  ClusterModel m = Cold(name, bytes);
  m.predicted_avg = avg;
  m.predicted_peak = peak;
  m.batch_size = batch;
  return m;
}

TEST(ClusterPlacementTest, ReplicaCountsFollowTheForecast) {
  EXPECT_EQ(CountClusterReplicas(0, 0, 0).foundation, 1) << "every model has one replica";
  EXPECT_EQ(CountClusterReplicas(0, 0, 0).burst, 0);
  EXPECT_EQ(CountClusterReplicas(40, 70, 32).foundation, 2);  // ceil(40 / 32)
  EXPECT_EQ(CountClusterReplicas(40, 70, 32).burst, 1);       // ceil(70 / 32) - 2
  EXPECT_EQ(CountClusterReplicas(40, 10, 32).burst, 0) << "a peak below the average adds nothing";
  EXPECT_EQ(CountClusterReplicas(33, 0, 0).foundation, 2) << "no batch size measured: the default";
  EXPECT_EQ(CountClusterReplicas(1e300, 1e300, 1).foundation, kMaxClusterReplicas);
  EXPECT_EQ(CountClusterReplicas(std::nan(""), -1, 8).foundation, 1);
}

TEST(ClusterPlacementTest, FoundationReplicasGoOnDemandAndBurstReplicasToSpot) {
  // The forecasts of the nodes add up: 25 + 15 = 40 in flight on average, peaks 50 + 20 = 70,
  // at a batch of 32: two foundation replicas, one burst replica.
  const ClusterPlan p = PlanClusterPlacement({
      Node("od-1", false, 3.0, 0, {Forecast("m", kGiB, 25, 50)}),
      Node("od-2", false, 3.0, 0, {Forecast("m", kGiB, 15, 20)}),
      Node("sp-1", true, 1.0, 0, {Forecast("m", kGiB, 0, 0)}),
      Node("sp-2", true, 1.0, 0, {Forecast("m", kGiB, 0, 0)}),
  });
  EXPECT_EQ(PlanOf(p, "od-1").warm, Names{"m"});
  EXPECT_EQ(PlanOf(p, "od-2").warm, Names{"m"});
  EXPECT_EQ(PlanOf(p, "sp-1").warm, Names{"m"}) << "the burst replica: spot, by name among equals";
  EXPECT_TRUE(PlanOf(p, "sp-2").warm.empty());
  ASSERT_EQ(p.replicas.size(), 1u);
  EXPECT_EQ(p.replicas[0].foundation, 2);
  EXPECT_EQ(p.replicas[0].burst, 1);
  EXPECT_EQ(p.replicas[0].nodes, (Names{"od-1", "od-2", "sp-1"}));
}

TEST(ClusterPlacementTest, WithoutSpotNodesBurstReplicasGoOnDemandAndNoNodeHoldsTwo) {
  const ClusterPlan p = PlanClusterPlacement({
      Node("a", false, 1.0, 0, {Forecast("m", kGiB, 100, 200)}),
      Node("b", false, 2.0, 0, {Forecast("m", kGiB, 0, 0)}),
  });
  EXPECT_EQ(PlanOf(p, "a").warm, Names{"m"});
  EXPECT_EQ(PlanOf(p, "b").warm, Names{"m"});
  ASSERT_EQ(p.replicas.size(), 1u);
  EXPECT_EQ(p.replicas[0].nodes, (Names{"a", "b"})) << "7 wanted, one per node";
}

TEST(ClusterPlacementTest, NoModelsExtraReplicaTakesTheRoomOfAnothersFirst) {
  // Room for one model per node. "hot" wants 4 replicas; "cold" (smaller, placed after it in a
  // round) must still get its only one.
  const ClusterPlan p = PlanClusterPlacement({
      Node("n1", false, 1.0, kGiB, {Forecast("hot", kGiB, 100, 100), Cold("cold", kGiB / 2)}),
      Node("n2", false, 1.0, kGiB, {Forecast("hot", kGiB, 0, 0), Cold("cold", kGiB / 2)}),
  });
  EXPECT_TRUE(p.unplaced.empty());
  EXPECT_EQ(PlanOf(p, "n1").warm, Names{"hot"});
  EXPECT_EQ(PlanOf(p, "n2").warm, Names{"cold"});
}

TEST(ClusterPlacementTest, ModelsHeldOnlyBySpotNodesAreStagedFirst) {
  // "a" fills od-1's pool; "s" fits no on-demand pool, so its only replica is on spot. od-2's
  // staged budget holds one of them: it goes to "s", whose replica a preemption could take.
  ClusterNode od1 = Node("od-1", false, 2.0, kGiB, {Cold("a", kGiB), Cold("s", kGiB / 2)});
  ClusterNode od2 = Node("od-2", false, 2.0, 1, {Cold("a", kGiB), Cold("s", kGiB / 2)});
  od2.staged_budget_bytes = kGiB;
  ClusterNode sp1 = Node("sp-1", true, 1.0, 0, {Cold("s", kGiB / 2)});
  const ClusterPlan p = PlanClusterPlacement({od1, od2, sp1});
  EXPECT_EQ(PlanOf(p, "od-1").warm, Names{"a"});
  EXPECT_EQ(PlanOf(p, "sp-1").warm, Names{"s"});
  EXPECT_EQ(PlanOf(p, "od-2").staged, Names{"s"});
}

}  // namespace
}  // namespace hearth::scheduler
