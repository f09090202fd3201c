#include "daemon/routing/handoff_plan.h"

#include <gtest/gtest.h>

namespace hearth::daemon {
namespace {

cluster::NodeRecord Node(const std::string& name, std::vector<cluster::ModelPresence> models, uint64_t budget = 0,
                         bool spot = false) {
  cluster::NodeRecord r;
  r.name = name;
  r.advertise = "http://127.0.0.1:1";
  r.instance = spot ? "spot" : "on-demand";
  r.memory_budget_bytes = budget;
  r.models = std::move(models);
  return r;
}

TEST(HandoffPlanTest, TheDrainingNodesModelsGoWhereTheyAreWarmOrFit) {
  std::vector<cluster::NodeRecord> members = {
      Node("me", {{"a", "warm", 100, 0}, {"b", "warm", 100, 0}}),
      Node("cold", {{"a", "registered", 0, 0}, {"b", "registered", 0, 0}}, 1000),
      Node("has-a", {{"a", "warm", 100, 0}, {"b", "registered", 0, 0}}, 150),  // room for a only
  };
  members.push_back(Node("leaving", {{"a", "warm", 100, 0}, {"b", "warm", 100, 0}}));
  members.back().draining = true;
  const std::vector<ServedForwards::Request> served = {{1, "a", 10, 7, 3}, {2, "b", 12, 8, 0}, {3, "a", 9, 7, 1}};
  scheduler::MigrationInput in = MigrationInputOf("me", members, served, {{"a", 100}, {"b", 100}});
  ASSERT_EQ(in.displaced.size(), 2u);
  EXPECT_EQ(in.displaced[0].name, "a");
  EXPECT_EQ(in.displaced[0].requests.size(), 2u);
  EXPECT_EQ(in.displaced[0].bytes, 100u);
  ASSERT_EQ(in.survivors.size(), 2u) << "neither this node nor another draining one survives";
  EXPECT_EQ(in.survivors[1].free_bytes, 50u) << "the budget less what is warm";
  const std::vector<cluster::Handoff> handoffs = HandoffsOf(scheduler::PlanMigration(in));
  ASSERT_EQ(handoffs.size(), 2u);
  EXPECT_EQ(handoffs[0].model, "a");
  EXPECT_EQ(handoffs[0].node, "has-a") << "warm there already";
  EXPECT_EQ(handoffs[1].model, "b");
  EXPECT_EQ(handoffs[1].node, "cold") << "has-a has no room left for b";
}

TEST(HandoffPlanTest, NothingServedNothingToHandOver) {
  std::vector<cluster::NodeRecord> members = {Node("me", {}), Node("x", {})};
  EXPECT_TRUE(HandoffsOf(scheduler::PlanMigration(MigrationInputOf("me", members, {}, {}))).empty());
}

}  // namespace
}  // namespace hearth::daemon
