#include "daemon/routing/route_choice.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace hearth::daemon {
namespace {

TEST(RouteChoiceTest, NobodyHostsTheModel) {
  EXPECT_EQ(ChooseRoute({}, 1), -1);
  EXPECT_EQ(ChooseRoute({{"a", "", 0}, {"b", "", 0}}, 1), -1);
}

TEST(RouteChoiceTest, WarmBeatsLoadingBeatsStagedBeatsCold) {
  // The warm node wins however loaded it is; without it the loading one, and so on.
  std::vector<RouteCandidate> c = {{"cold", "registered", 0}, {"staged", "staged", 0}, {"loading", "loading", 0},
                                   {"warm", "warm", 100}};
  for (uint64_t h = 0; h < 50; ++h) EXPECT_EQ(c[ChooseRoute(c, h)].node, "warm");
  c.pop_back();
  EXPECT_EQ(c[ChooseRoute(c, 7)].node, "loading");
  c.pop_back();
  EXPECT_EQ(c[ChooseRoute(c, 7)].node, "staged");
  c.pop_back();
  EXPECT_EQ(c[ChooseRoute(c, 7)].node, "cold");
}

TEST(RouteChoiceTest, LoadBeyondTheSlackLoses) {
  std::vector<RouteCandidate> c = {{"busy", "warm", 10}, {"idle", "warm", 0}};
  for (uint64_t h = 0; h < 100; ++h) EXPECT_EQ(c[ChooseRoute(c, h, {4})].node, "idle");
}

TEST(RouteChoiceTest, WithinTheSlackThePrefixDecidesAndSpreads) {
  std::vector<RouteCandidate> c = {{"a", "warm", 2}, {"b", "warm", 0}, {"c", "warm", 4}};
  std::map<std::string, int> chosen;
  for (uint64_t h = 0; h < 3000; ++h) {
    const int i = ChooseRoute(c, h, {4});
    ASSERT_GE(i, 0);
    ++chosen[c[i].node];
    EXPECT_EQ(ChooseRoute(c, h, {4}), i) << "the same prefix goes to the same node";
  }
  // Every node takes a fair share of the prefixes (a third each, give or take).
  for (const auto& [node, n] : chosen) EXPECT_GT(n, 800) << node;
  EXPECT_EQ(chosen.size(), 3u);
}

TEST(RouteChoiceTest, ThisNodeServesWhenItIsAsGoodAsAny) {
  std::vector<RouteCandidate> c = {{"a", "warm", 0, false}, {"me", "warm", 3, true}, {"b", "warm", 1, false}};
  for (uint64_t h = 0; h < 100; ++h) EXPECT_EQ(c[ChooseRoute(c, h, {4})].node, "me");
  c[1].load = 5;  // beyond the slack
  for (uint64_t h = 0; h < 100; ++h) EXPECT_NE(c[ChooseRoute(c, h, {4})].node, "me");
  c[1].load = 0;
  c[1].state = "staged";  // a worse state
  for (uint64_t h = 0; h < 100; ++h) EXPECT_NE(c[ChooseRoute(c, h, {4})].node, "me");
}

TEST(RouteChoiceTest, ANodeLeavingMovesOnlyItsOwnPrefixes) {
  std::vector<RouteCandidate> three = {{"a", "warm", 0}, {"b", "warm", 0}, {"c", "warm", 0}};
  std::vector<RouteCandidate> two = {{"a", "warm", 0}, {"b", "warm", 0}};
  for (uint64_t h = 0; h < 500; ++h) {
    const std::string before = three[ChooseRoute(three, h)].node;
    if (before != "c") {
      EXPECT_EQ(two[ChooseRoute(two, h)].node, before);
    }
  }
}

TEST(RouteChoiceTest, PrefixHashReadsOnlyTheFirstTokens) {
  std::vector<int32_t> a(100, 5), b(100, 5);
  b[99] = 6;
  EXPECT_EQ(PrefixHash(a), PrefixHash(b));
  b[0] = 6;
  EXPECT_NE(PrefixHash(a), PrefixHash(b));
}

TEST(RouteChoiceTest, StateTiers) {
  EXPECT_EQ(StateTier("warm"), 0);
  EXPECT_EQ(StateTier("loading"), 1);
  EXPECT_EQ(StateTier("staging"), 2);
  EXPECT_EQ(StateTier("unloading"), 3);
  EXPECT_EQ(StateTier("bogus"), -1);
}

}  // namespace
}  // namespace hearth::daemon
