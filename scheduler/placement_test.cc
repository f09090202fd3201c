#include "scheduler/placement.h"

#include <gtest/gtest.h>

namespace hearth::scheduler {
namespace {

constexpr uint64_t kPage = 2u << 20;

// A model of `pages` whole pages (file and copy the same size), idle, used at tick `used`.
ModelView Model(const std::string& name, ModelState state, uint64_t pages, int64_t used) {
  ModelView m;
  m.name = name;
  m.state = state;
  m.warm_bytes = pages * kPage;
  m.copy_bytes = pages * kPage;
  m.has_copy = state == ModelState::kStaged;
  m.last_used = used;
  return m;
}
ModelView Warm(const std::string& name, uint64_t pages, int64_t used) {
  return Model(name, ModelState::kWarm, pages, used);
}
ModelView OnDisk(const std::string& name, uint64_t pages) { return Model(name, ModelState::kOnDisk, pages, 0); }
ModelView Staged(const std::string& name, uint64_t pages, int64_t used) {
  return Model(name, ModelState::kStaged, pages, used);
}

WorkerView View(uint64_t budget_pages, uint64_t staged_pages, std::vector<ModelView> models) {
  WorkerView v;
  v.pool_budget_bytes = budget_pages * kPage;
  v.page_bytes = kPage;
  v.staged_budget_bytes = staged_pages * kPage;
  v.models = std::move(models);
  return v;
}

Action Do(ActionKind kind, const std::string& model) { return {kind, model}; }
using enum ActionKind;

TEST(PlacementTest, FitsWithoutEvicting) {
  Plan plan = PlanWarm(View(10, 0, {Warm("a", 4, 1), OnDisk("c", 6)}), "c");
  EXPECT_EQ(plan.outcome, Outcome::kReady);
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kLoad, "c")}));
  // No budget: anything fits.
  plan = PlanWarm(View(0, 0, {Warm("a", 400, 1), OnDisk("c", 600)}), "c");
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kLoad, "c")}));
  // Warm already: nothing to do; moving: wait for it to settle.
  EXPECT_TRUE(PlanWarm(View(10, 0, {Warm("a", 4, 1)}), "a").actions.empty());
  EXPECT_EQ(PlanWarm(View(10, 0, {Model("a", ModelState::kLoading, 4, 1)}), "a").outcome, Outcome::kWait);
}

TEST(PlacementTest, EvictsLeastRecentlyUsedFirstAndOnlyAsManyAsNeeded) {
  // 10 pages, 9 in use by three idle models; d needs 6: the two least recently used go, in
  // that order, and the most recent stays.
  WorkerView v = View(10, 0, {Warm("a", 3, 5), Warm("b", 3, 2), Warm("c", 3, 9), OnDisk("d", 6)});
  Plan plan = PlanWarm(v, "d");
  EXPECT_EQ(plan.outcome, Outcome::kReady);
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kUnload, "b"), Do(kUnload, "a"), Do(kLoad, "d")}));
  // Recency, not the order of the view or the name.
  v.models[1].last_used = 7;
  plan = PlanWarm(v, "d");
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kUnload, "a"), Do(kUnload, "b"), Do(kLoad, "d")}));
}

TEST(PlacementTest, EvictsTheLowestScoredFirstThenTheLeastRecentlyUsed) {
  // d needs 3 of 10 pages, 9 in use: one model goes. b is the least recently used, but a is
  // worth the least.
  WorkerView v = View(10, 0, {Warm("a", 3, 5), Warm("b", 3, 2), Warm("c", 3, 9), OnDisk("d", 3)});
  v.models[0].score = 0.5;
  v.models[1].score = 2;
  v.models[2].score = 0.5;
  EXPECT_EQ(PlanWarm(v, "d").actions, (std::vector<Action>{Do(kUnload, "a"), Do(kLoad, "d")}));
  // Scores equal: recency decides.
  v.models[1].score = 0.5;
  EXPECT_EQ(PlanWarm(v, "d").actions, (std::vector<Action>{Do(kUnload, "b"), Do(kLoad, "d")}));
  // The model asked for is never its own victim, whatever its score; a busy one is drained,
  // not evicted, however low its score.
  WorkerView own = View(6, 0, {Warm("a", 3, 1), Warm("b", 3, 2), OnDisk("c", 3)});
  own.models[0].score = 0;
  own.models[0].busy = true;
  own.models[1].score = 9;
  own.models[2].score = 0;
  EXPECT_EQ(PlanWarm(own, "c").actions, (std::vector<Action>{Do(kUnload, "b"), Do(kLoad, "c")}));
  // Staged copies dropped for room: the lowest-scored first.
  WorkerView staged = View(3, 4, {Warm("a", 2, 9), Staged("x", 2, 1), Staged("y", 2, 2), OnDisk("c", 3)});
  staged.models[1].score = 3;
  staged.models[2].score = 1;
  EXPECT_EQ(PlanWarm(staged, "c").actions,
            (std::vector<Action>{Do(kUnload, "y"), Do(kSwapOut, "a"), Do(kLoad, "c")}));
}

TEST(PlacementTest, NeverEvictsABusyModelDrainsTheLeastRecentlyUsedBusyOneAndWaits) {
  // a (least recently used) has requests: b goes instead.
  WorkerView v = View(6, 0, {Warm("a", 3, 1), Warm("b", 3, 2), OnDisk("c", 3)});
  v.models[0].busy = true;
  Plan plan = PlanWarm(v, "c");
  EXPECT_EQ(plan.outcome, Outcome::kReady);
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kUnload, "b"), Do(kLoad, "c")}));

  // Both busy: nothing is evicted; the least recently used is drained and the caller waits.
  v.models[1].busy = true;
  plan = PlanWarm(v, "c");
  EXPECT_EQ(plan.outcome, Outcome::kWait);
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kDrain, "a")}));
  EXPECT_FALSE(plan.reason.empty());

  // Already draining: no second drain, still waiting.
  v.models[0].draining = true;
  plan = PlanWarm(v, "c");
  EXPECT_EQ(plan.outcome, Outcome::kWait);
  EXPECT_TRUE(plan.actions.empty());

  // Its requests end: it is evicted like any idle model.
  v.models[0].busy = false;
  plan = PlanWarm(v, "c");
  EXPECT_EQ(plan.outcome, Outcome::kReady);
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kUnload, "a"), Do(kLoad, "c")}));
}

TEST(PlacementTest, IdleModelsGoBeforeADrainWhenTheyAreNotEnough) {
  // c needs 6 of 9 used pages back: the idle b goes now, busy a is drained for the rest.
  WorkerView v = View(9, 0, {Warm("a", 3, 1), Warm("b", 3, 2), Warm("p", 3, 0), OnDisk("c", 6)});
  v.models[0].busy = true;
  v.models[2].pinned = true;
  Plan plan = PlanWarm(v, "c");
  EXPECT_EQ(plan.outcome, Outcome::kWait);
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kUnload, "b"), Do(kDrain, "a")}));
}

TEST(PlacementTest, PinnedModelsAreNeverEvictedNorDrained) {
  WorkerView v = View(6, 0, {Warm("a", 3, 1), Warm("b", 3, 2), OnDisk("c", 3)});
  v.models[0].pinned = true;
  Plan plan = PlanWarm(v, "c");
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kUnload, "b"), Do(kLoad, "c")}));
  // Every warm model pinned (one of them busy): wait, with nothing to drain.
  v.models[1].pinned = true;
  v.models[1].busy = true;
  plan = PlanWarm(v, "c");
  EXPECT_EQ(plan.outcome, Outcome::kWait);
  EXPECT_TRUE(plan.actions.empty());
}

TEST(PlacementTest, AModelLargerThanTheWholeBudgetIsRefused) {
  // Even with everything else idle, 7 pages never fit 6.
  Plan plan = PlanWarm(View(6, 0, {Warm("a", 3, 1), OnDisk("big", 7)}), "big");
  EXPECT_EQ(plan.outcome, Outcome::kRefused);
  EXPECT_EQ(plan.refusal, Refusal::kLargerThanBudget);
  EXPECT_TRUE(plan.actions.empty()) << "nothing is evicted for a model that cannot fit";
  EXPECT_NE(plan.reason.find("big"), std::string::npos) << plan.reason;
  // The budget holds whole pages: 6.5 pages hold a 6-page model, and not one of 6 pages and a byte.
  WorkerView v = View(0, 0, {OnDisk("m", 6)});
  v.pool_budget_bytes = 6 * kPage + kPage / 2;
  EXPECT_EQ(PlanWarm(v, "m").outcome, Outcome::kReady);
  v.models[0].warm_bytes = 6 * kPage + 1;
  EXPECT_EQ(PlanWarm(v, "m").refusal, Refusal::kLargerThanBudget);
}

TEST(PlacementTest, ScatteredFreePagesFitAModelByPageCount) {
  // 12 pages: a, b, c hold 2 each with free pages between them (the view does not say where:
  // the pool maps scattered pages into one range), so 6 free pages take a 6-page model whole.
  WorkerView v = View(12, 0, {Warm("a", 2, 1), Warm("b", 2, 2), Warm("c", 2, 3), OnDisk("m", 6)});
  Plan plan = PlanWarm(v, "m");
  EXPECT_EQ(plan.outcome, Outcome::kReady);
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kLoad, "m")})) << "no eviction when the pages are there";
  // A model whose size is not a page multiple needs the rounded-up pages: 7 here, so a goes.
  v.models[3].warm_bytes = 6 * kPage + 1;
  plan = PlanWarm(v, "m");
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kUnload, "a"), Do(kLoad, "m")}));
  // And a warm model's odd size counts as its rounded-up pages too: 5 pages + 1 byte is 6.
  v = View(12, 0, {Warm("a", 0, 1), OnDisk("m", 6)});
  v.models[0].warm_bytes = 5 * kPage + 1;
  EXPECT_EQ(PagesInUse(v), 6u);
  EXPECT_EQ(PlanWarm(v, "m").actions, (std::vector<Action>{Do(kLoad, "m")}));
  v.models[0].warm_bytes = 6 * kPage + 1;
  EXPECT_EQ(PlanWarm(v, "m").actions, (std::vector<Action>{Do(kUnload, "a"), Do(kLoad, "m")}));
}

TEST(PlacementTest, EvictionSwapsOutWhenStagingHasRoomElseUnloads) {
  // Staging has room for a's copy: swapped out, not unloaded.
  WorkerView v = View(6, 4, {Warm("a", 3, 1), Warm("b", 3, 2), OnDisk("c", 3)});
  EXPECT_EQ(PlanWarm(v, "c").actions, (std::vector<Action>{Do(kSwapOut, "a"), Do(kLoad, "c")}));
  // Staging off: unloaded.
  v.staged_budget_bytes = 0;
  EXPECT_EQ(PlanWarm(v, "c").actions, (std::vector<Action>{Do(kUnload, "a"), Do(kLoad, "c")}));
  // Staging too small for the copy: unloaded.
  v.staged_budget_bytes = 2 * kPage;
  EXPECT_EQ(PlanWarm(v, "c").actions, (std::vector<Action>{Do(kUnload, "a"), Do(kLoad, "c")}));
  // A model that kept its copy after a swap-in swaps out without room: its copy is counted.
  v.models[0].has_copy = true;
  v.staged_budget_bytes = 3 * kPage;
  EXPECT_EQ(PlanWarm(v, "c").actions, (std::vector<Action>{Do(kSwapOut, "a"), Do(kLoad, "c")}));
}

TEST(PlacementTest, SwapOutDropsTheLeastRecentlyUsedStagedOnlyCopies) {
  // Staged budget 6: s1 and s2 fill it. a's copy (3) needs the room of one: s2, used less recently.
  WorkerView v =
      View(6, 6, {Warm("a", 3, 10), Warm("b", 3, 20), Staged("s1", 3, 5), Staged("s2", 3, 2), OnDisk("c", 3)});
  Plan plan = PlanWarm(v, "c");
  EXPECT_EQ(plan.outcome, Outcome::kReady);
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kUnload, "s2"), Do(kSwapOut, "a"), Do(kLoad, "c")}));
  // c staged itself (the oldest copy of all): it swaps in, and its own copy is never dropped.
  v.models[4] = Staged("c", 3, 0);
  v.staged_budget_bytes = 9 * kPage;
  plan = PlanWarm(v, "c");
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kUnload, "s2"), Do(kSwapOut, "a"), Do(kSwapIn, "c")}));
}

TEST(PlacementTest, CopiesOfWarmOrWaitedForModelsAreNeverDropped) {
  // Staged budget 6: b (warm, kept its copy) and w (staged, a load waits for it) hold it all.
  WorkerView v = View(6, 6, {Warm("a", 3, 1), Warm("b", 3, 2), Staged("w", 3, 0), OnDisk("c", 3)});
  v.models[1].has_copy = true;
  v.models[2].load_waiting = true;
  Plan plan = PlanWarm(v, "c");
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kUnload, "a"), Do(kLoad, "c")})) << "no copy may go: a is unloaded";
  // A loading model's copy is not dropped either.
  v.models[2].load_waiting = false;
  v.models[2].state = ModelState::kLoading;
  v.pool_budget_bytes = 9 * kPage;
  plan = PlanWarm(v, "c");
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kUnload, "a"), Do(kLoad, "c")}));
  // Nothing is dropped in vain: s (3) may go, but a's copy (4) needs 4 of the 2 it would free.
  v = View(6, 5, {Warm("a", 4, 1), Warm("b", 2, 2), Staged("s", 2, 0), OnDisk("c", 3)});
  v.models[1].has_copy = true;
  v.models[1].copy_bytes = 3 * kPage;
  plan = PlanWarm(v, "c");
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kUnload, "a"), Do(kLoad, "c")}));
}

TEST(PlacementTest, StageRefusesWhenOffOrFullAndDropsOnlyStagedOnlyCopies) {
  // Off.
  Plan plan = PlanStage(View(6, 0, {OnDisk("a", 3)}), "a");
  EXPECT_EQ(plan.refusal, Refusal::kStagingOff);
  // Larger than the whole staged budget.
  plan = PlanStage(View(6, 2, {OnDisk("a", 3)}), "a");
  EXPECT_EQ(plan.outcome, Outcome::kRefused);
  EXPECT_EQ(plan.refusal, Refusal::kNoStagedRoom);
  // Room made from the least recently used staged-only copy; the warm model's copy stays.
  WorkerView v = View(6, 6, {Warm("w", 3, 0), Staged("s", 3, 4), OnDisk("a", 3)});
  v.models[0].has_copy = true;
  plan = PlanStage(v, "a");
  EXPECT_EQ(plan.outcome, Outcome::kReady);
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kUnload, "s"), Do(kStage, "a")}));
  // Only the warm model's copy: refused, and nothing dropped.
  v.models[1] = OnDisk("s", 3);
  v.staged_budget_bytes = 5 * kPage;
  plan = PlanStage(v, "a");
  EXPECT_EQ(plan.refusal, Refusal::kNoStagedRoom);
  EXPECT_TRUE(plan.actions.empty());
  // A warm model swaps out (its copy kept, no room needed); a staged one is done.
  EXPECT_EQ(PlanStage(v, "w").actions, (std::vector<Action>{Do(kSwapOut, "w")}));
  // Without a copy it needs room, which the copy of another warm model does not give.
  v = View(6, 5, {Warm("w", 3, 0), Warm("x", 2, 1)});
  v.models[1].has_copy = true;
  v.models[1].copy_bytes = 3 * kPage;
  EXPECT_EQ(PlanStage(v, "w").refusal, Refusal::kNoStagedRoom);
  v.models[1].has_copy = false;
  EXPECT_EQ(PlanStage(v, "w").actions, (std::vector<Action>{Do(kSwapOut, "w")}));
  EXPECT_TRUE(PlanStage(View(6, 6, {Staged("s", 3, 1)}), "s").actions.empty());
}

TEST(PlacementTest, StartupFillLoadsInOrderWhileTheBudgetHoldsThemAndNeverEvicts) {
  // 10 pages, p (warm, idle) holds 2: a (4) fits, b (5) does not and is skipped, c (3) fits,
  // d (2) no longer does. Nothing is evicted for them; a staged model swaps in.
  WorkerView v = View(10, 8, {Warm("p", 2, 0), OnDisk("a", 4), OnDisk("b", 5), Staged("c", 3, 0), OnDisk("d", 2)});
  Plan plan = PlanStartupFill(v, {"a", "b", "c", "d"});
  EXPECT_EQ(plan.outcome, Outcome::kReady);
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kLoad, "a"), Do(kSwapIn, "c")}));
  // The order given decides, not the names: b first takes the room a would have had.
  plan = PlanStartupFill(v, {"b", "a", "d"});
  EXPECT_EQ(plan.actions, (std::vector<Action>{Do(kLoad, "b"), Do(kLoad, "d")}));
  // No budget: all of them.
  v.pool_budget_bytes = 0;
  EXPECT_EQ(PlanStartupFill(v, {"a", "b", "c", "d"}).actions.size(), 4u);
}

TEST(PlacementTest, ArithmeticHelpers) {
  EXPECT_EQ(PagesFor(0, kPage), 0u);
  EXPECT_EQ(PagesFor(1, kPage), 1u);
  EXPECT_EQ(PagesFor(kPage, kPage), 1u);
  EXPECT_EQ(PagesFor(kPage + 1, kPage), 2u);
  WorkerView v = View(0, 0, {});
  EXPECT_EQ(BudgetPages(v), 0u) << "no limit";
  v.pool_budget_bytes = 1;
  EXPECT_EQ(BudgetPages(v), 1u) << "at least one page";
  v = View(10, 10, {Staged("s", 2, 0), Model("g", ModelState::kStaging, 3, 0), OnDisk("d", 5), Warm("w", 1, 0)});
  EXPECT_EQ(StagedBytesInUse(v), 5 * kPage) << "copies held and being made";
  EXPECT_EQ(PagesInUse(v), 1u);
}

}  // namespace
}  // namespace hearth::scheduler
