#include "scheduler/prewarm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace hearth::scheduler {
namespace {

ModelDemand Demand(const std::string& name, double avg, double peak, uint64_t bytes = 1'000'000'000) {
  ModelDemand d;
  d.name = name;
  d.predicted_avg = avg;
  d.predicted_peak = peak;
  d.bytes = bytes;
  d.load_bytes_per_s = 1e9;  // a cold start of `bytes` / 1e9 seconds
  d.swap_in_bytes_per_s = 5e9;
  return d;
}

// avg 40, peak 100 at batch 32: 2 foundation and 2 burst replicas; cold start 1 s.
TEST(PrewarmTest, ReplicaScoresFollowTheFormula) {
  const std::vector<Replica> r = ScoreReplicas({Demand("a", 40, 100)});
  ASSERT_EQ(r.size(), 4u);
  // Highest first: burst i=2 (e^-0.5 x 2.5), burst i=3 (e^-0.75 x 2.5), foundation 0, 1.
  EXPECT_TRUE(r[0].burst);
  EXPECT_EQ(r[0].index, 2);
  EXPECT_NEAR(r[0].score, std::exp(-0.5) * 2.5, 1e-12);
  EXPECT_EQ(r[1].index, 3);
  EXPECT_NEAR(r[1].score, std::exp(-0.75) * 2.5, 1e-12);
  EXPECT_EQ(r[2].index, 0);
  EXPECT_NEAR(r[2].score, 1.0, 1e-12);
  EXPECT_EQ(r[3].index, 1);
  EXPECT_NEAR(r[3].score, std::exp(-0.25), 1e-12);
  for (size_t i = 1; i < r.size(); ++i) EXPECT_GE(r[i - 1].score, r[i].score);
  // One copy running: one foundation and two burst replicas left.
  ModelDemand running = Demand("a", 40, 100);
  running.running = 1;
  const std::vector<Replica> left = ScoreReplicas({running});
  ASSERT_EQ(left.size(), 3u);
  EXPECT_EQ(std::count_if(left.begin(), left.end(), [](const Replica& x) { return x.burst; }), 2);
}

TEST(PrewarmTest, AModelsScoreIsItsColdStartAndNoLoadIsWorthNothing) {
  EXPECT_NEAR(ModelScore(Demand("a", 3, 3, 2'000'000'000)), 2.0, 1e-12);
  EXPECT_EQ(ModelScore(Demand("idle", 0, 0)), 0);
  ModelDemand staged = Demand("s", 3, 3, 2'000'000'000);
  staged.staged = true;  // swaps in at 5 GB/s: less to lose by leaving it out of the pool
  EXPECT_NEAR(ModelScore(staged), 0.4, 1e-12);
  // Only a burst predicted (no foundation): the burst replica's factor needs an average.
  EXPECT_GT(ModelScore(Demand("b", 0, 5)), 0);
  // A request in about one window of four: a quarter of the cold start.
  EXPECT_NEAR(ModelScore(Demand("rare", 0.05, 0.25, 2'000'000'000)), 0.5, 1e-12);
  // Six requests expected: six cold starts at stake (a smaller, busier model outranks a larger,
  // quieter one).
  ModelDemand busy = Demand("busy", 0.5, 1, 500'000'000);
  busy.predicted_arrivals = 6;
  EXPECT_NEAR(ModelScore(busy), 3.0, 1e-12);
  ModelDemand quiet = Demand("quiet", 0.5, 1, 2'000'000'000);
  quiet.predicted_arrivals = 1;
  EXPECT_GT(ModelScore(busy), ModelScore(quiet));
}

ModelView View(const std::string& name, ModelState state, uint64_t pages, int64_t used = 0) {
  ModelView m;
  m.name = name;
  m.state = state;
  m.warm_bytes = pages;
  m.copy_bytes = pages;
  m.has_copy = state == ModelState::kStaged;
  m.last_used = used;
  return m;
}

WorkerView Worker(uint64_t pool_pages, uint64_t staged, std::vector<ModelView> models) {
  WorkerView v;
  v.pool_budget_bytes = pool_pages;
  v.page_bytes = 1;
  v.staged_budget_bytes = staged;
  v.models = std::move(models);
  return v;
}

TEST(PrewarmTest, FillsThePoolThenTheStagedBudgetByDescendingScore) {
  const WorkerView v = Worker(3, 10,
                              {View("a", ModelState::kWarm, 1), View("b", ModelState::kOnDisk, 2),
                               View("c", ModelState::kOnDisk, 2), View("d", ModelState::kOnDisk, 9)});
  const PrewarmPlan p = PlanPrewarm(v, {{"a", 1}, {"b", 5}, {"c", 2}, {"d", 0.5}});
  EXPECT_EQ(p.warm, (std::vector<std::string>{"b", "a"}));  // c does not fit beside b; a does
  EXPECT_EQ(p.staged, (std::vector<std::string>{"c"}));     // d's copy would not fit beside c's
  EXPECT_EQ(p.actions, (std::vector<Action>{{ActionKind::kLoad, "b"}, {ActionKind::kStage, "c"}}));
}

TEST(PrewarmTest, EvictsOnlyForAHigherScore) {
  std::vector<ModelView> models = {View("a", ModelState::kWarm, 2), View("b", ModelState::kOnDisk, 2)};
  const PrewarmPlan higher = PlanPrewarm(Worker(2, 2, models), {{"a", 1}, {"b", 5}});
  EXPECT_EQ(higher.actions, (std::vector<Action>{{ActionKind::kSwapOut, "a"}, {ActionKind::kLoad, "b"}}));
  const PrewarmPlan lower = PlanPrewarm(Worker(2, 2, models), {{"a", 5}, {"b", 1}});
  EXPECT_EQ(lower.warm, (std::vector<std::string>{"a"}));
  EXPECT_EQ(lower.actions, (std::vector<Action>{{ActionKind::kStage, "b"}}));
  // Without staging, the evicted one is unloaded.
  const PrewarmPlan unstaged = PlanPrewarm(Worker(2, 0, models), {{"a", 1}, {"b", 5}});
  EXPECT_EQ(unstaged.actions, (std::vector<Action>{{ActionKind::kUnload, "a"}, {ActionKind::kLoad, "b"}}));
}

TEST(PrewarmTest, AChallengerMustBeWorthClearlyMoreThanTheModelInPlace) {
  std::vector<ModelView> models = {View("a", ModelState::kWarm, 2), View("b", ModelState::kOnDisk, 2)};
  // Within the margin: forecasts that differ by noise move nothing.
  EXPECT_TRUE(PlanPrewarm(Worker(2, 0, models), {{"a", 1}, {"b", 1.2}}).actions.empty());
  EXPECT_EQ(PlanPrewarm(Worker(2, 0, models), {{"a", 1}, {"b", 1.3}}).actions,
            (std::vector<Action>{{ActionKind::kUnload, "a"}, {ActionKind::kLoad, "b"}}));
  // A staged model keeps its copy the same way.
  models = {View("s", ModelState::kStaged, 2), View("d", ModelState::kOnDisk, 2)};
  EXPECT_TRUE(PlanPrewarm(Worker(0 + 1, 2, models), {{"s", 1}, {"d", 1.2}}).actions.empty());
}

TEST(PrewarmTest, BusyAndPinnedModelsAreNeverEvicted) {
  for (int which = 0; which < 2; ++which) {
    ModelView a = View("a", ModelState::kWarm, 2);
    (which == 0 ? a.busy : a.pinned) = true;  // a request's own model, or a pin
    const PrewarmPlan p = PlanPrewarm(Worker(2, 0, {a, View("b", ModelState::kOnDisk, 2)}), {{"a", 0}, {"b", 9}});
    EXPECT_EQ(p.warm, (std::vector<std::string>{"a"})) << which;
    EXPECT_TRUE(p.actions.empty()) << which;
  }
}

TEST(PrewarmTest, UnpredictedModelsStayWhileThereIsRoomAndMovingOnesAreLeftAlone) {
  const WorkerView v = Worker(10, 10,
                              {View("idle", ModelState::kWarm, 2), View("moving", ModelState::kLoading, 3),
                               View("hot", ModelState::kOnDisk, 4)});
  const PrewarmPlan p = PlanPrewarm(v, {{"hot", 3}});
  EXPECT_EQ(p.warm, (std::vector<std::string>{"hot", "idle"}));
  EXPECT_EQ(p.actions, (std::vector<Action>{{ActionKind::kLoad, "hot"}}));
  // No room for both: the idle one gives way to the predicted one.
  const PrewarmPlan tight = PlanPrewarm(Worker(7, 0, v.models), {{"hot", 3}});
  EXPECT_EQ(tight.actions, (std::vector<Action>{{ActionKind::kUnload, "idle"}, {ActionKind::kLoad, "hot"}}));
}

}  // namespace
}  // namespace hearth::scheduler
