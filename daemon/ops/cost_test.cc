#include "daemon/ops/cost.h"

#include <gtest/gtest.h>

namespace hearth::daemon {
namespace {

double SumOfModels(const CostLedger& ledger) {
  double sum = 0;
  for (const auto& [model, dollars] : ledger.models()) sum += dollars;
  return sum;
}

TEST(NodeCostTest, PriceTimesHoursAndPerToken) {
  const NodeCost cost{0.5, 7200, 400000};
  EXPECT_DOUBLE_EQ(cost.node_hours(), 2.0);
  EXPECT_DOUBLE_EQ(cost.dollars(), 1.0);
  EXPECT_DOUBLE_EQ(cost.per_token(), 1.0 / 400000);
  EXPECT_DOUBLE_EQ(cost.per_million_tokens(), 2.5);
  // A request's cost is its tokens times the node's cost per token.
  EXPECT_DOUBLE_EQ(100 * cost.per_token(), 0.00025);
}

TEST(NodeCostTest, NoPriceCostsNothing) {
  const NodeCost cost{0, 3600, 1000};
  EXPECT_DOUBLE_EQ(cost.node_hours(), 1.0);
  EXPECT_EQ(cost.dollars(), 0);
  EXPECT_EQ(cost.per_token(), 0);
  EXPECT_EQ(cost.per_million_tokens(), 0);
}

TEST(NodeCostTest, NoTokensYetHasNoCostPerToken) {
  const NodeCost cost{2.0, 1800, 0};
  EXPECT_DOUBLE_EQ(cost.dollars(), 1.0);
  EXPECT_EQ(cost.per_token(), 0);
  EXPECT_EQ(cost.per_million_tokens(), 0);
}

TEST(CostLedgerTest, BeforeTheFirstTokenEverythingIsUnattributed) {
  CostLedger ledger;
  ledger.Update(0.25, {{"a", 0}, {"b", 0}});
  EXPECT_DOUBLE_EQ(ledger.node_dollars(), 0.25);
  EXPECT_DOUBLE_EQ(ledger.unattributed(), 0.25);
  EXPECT_EQ(ledger.model_dollars("a"), 0);
  EXPECT_EQ(ledger.model_dollars("b"), 0);
  EXPECT_EQ(ledger.models().size(), 2u) << "every model has its figure, 0 until it generates";
  // The first interval with tokens takes the idle cost before it.
  ledger.Update(0.5, {{"a", 30}, {"b", 10}});
  EXPECT_DOUBLE_EQ(ledger.unattributed(), 0);
  EXPECT_DOUBLE_EQ(ledger.model_dollars("a"), 0.375);
  EXPECT_DOUBLE_EQ(ledger.model_dollars("b"), 0.125);
}

TEST(CostLedgerTest, EachIntervalIsSplitByItsTokens) {
  CostLedger ledger;
  ledger.Update(1.0, {{"a", 100}, {"b", 0}});
  EXPECT_DOUBLE_EQ(ledger.model_dollars("a"), 1.0);
  // Only b worked in the second interval: a keeps what it had, b pays the interval.
  ledger.Update(3.0, {{"a", 100}, {"b", 5000}});
  EXPECT_DOUBLE_EQ(ledger.model_dollars("a"), 1.0);
  EXPECT_DOUBLE_EQ(ledger.model_dollars("b"), 2.0);
  EXPECT_NEAR(SumOfModels(ledger), ledger.node_dollars(), 1e-12);
}

TEST(CostLedgerTest, IdleTimeIsSplitByTheTokensSoFar) {
  CostLedger ledger;
  ledger.Update(1.0, {{"a", 300}, {"b", 100}});
  ledger.Update(3.0, {{"a", 300}, {"b", 100}});  // nobody generated: 3/4 to a, 1/4 to b
  EXPECT_DOUBLE_EQ(ledger.model_dollars("a"), 0.75 + 1.5);
  EXPECT_DOUBLE_EQ(ledger.model_dollars("b"), 0.25 + 0.5);
  EXPECT_EQ(ledger.unattributed(), 0);
}

TEST(CostLedgerTest, ModelCostsNeverGoDownAndAddUpToTheNodeCost) {
  CostLedger ledger;
  std::map<std::string, double> tokens = {{"a", 0}, {"b", 0}, {"c", 0}};
  std::map<std::string, double> last;
  for (int step = 1; step <= 200; ++step) {
    // Uneven, bursty work; some intervals idle.
    if (step % 7 != 0) tokens["a"] += (step * 37) % 11;
    if (step % 3 == 0) tokens["b"] += 100;
    if (step > 150) tokens["c"] += 1;
    ledger.Update(0.013 * step, tokens);
    for (const auto& [model, dollars] : ledger.models()) {
      EXPECT_GE(dollars, last[model]) << model << " at step " << step;
      last[model] = dollars;
    }
    EXPECT_NEAR(SumOfModels(ledger) + ledger.unattributed(), ledger.node_dollars(), 1e-9) << step;
  }
  EXPECT_NEAR(ledger.node_dollars(), 2.6, 1e-12);
  EXPECT_EQ(ledger.unattributed(), 0);
  EXPECT_GT(ledger.model_dollars("c"), 0);
}

TEST(CostLedgerTest, ZeroPriceGivesEveryModelZero) {
  CostLedger ledger;
  ledger.Update(0, {{"a", 10}});
  ledger.Update(0, {{"a", 20}, {"b", 5}});
  EXPECT_EQ(ledger.node_dollars(), 0);
  EXPECT_EQ(ledger.model_dollars("a"), 0);
  EXPECT_EQ(ledger.model_dollars("b"), 0);
  EXPECT_EQ(ledger.unattributed(), 0);
}

TEST(CostLedgerTest, ATotalThatGoesDownStartsAgainFromZero) {
  CostLedger ledger;
  ledger.Update(1.0, {{"a", 100}, {"b", 100}});
  // a's count started again (10 new tokens), b generated 30.
  ledger.Update(2.0, {{"a", 10}, {"b", 130}});
  EXPECT_DOUBLE_EQ(ledger.model_dollars("a"), 0.5 + 0.25);
  EXPECT_DOUBLE_EQ(ledger.model_dollars("b"), 0.5 + 0.75);
  // A cost figure that goes down accrues nothing.
  ledger.Update(1.5, {{"a", 10}, {"b", 130}});
  EXPECT_DOUBLE_EQ(ledger.node_dollars(), 2.0);
  EXPECT_NEAR(SumOfModels(ledger), 2.0, 1e-12);
}

}  // namespace
}  // namespace hearth::daemon
