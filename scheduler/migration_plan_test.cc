// The migration plan for a preempted node: the Hungarian algorithm against brute force, the plan
// against brute force where it is exact, and hand-made clusters (warm beats staged beats cold,
// prefix blocks break ties, room and request slots respected, deterministic, edge cases).
#include "scheduler/migration_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <tuple>

namespace hearth::scheduler {
namespace {

// ---- The assignment ------------------------------------------------------------------------

int64_t Total(const std::vector<std::vector<int64_t>>& w, const std::vector<int>& col) {
  int64_t sum = 0;
  for (size_t i = 0; i < col.size(); ++i) {
    if (col[i] >= 0) sum += w[i][col[i]];
  }
  return sum;
}

// Every way to give the smaller side distinct partners: the best total.
int64_t BruteForce(const std::vector<std::vector<int64_t>>& w, size_t cols) {
  const size_t rows = w.size();
  int64_t best = std::numeric_limits<int64_t>::min();
  if (rows <= cols) {
    std::vector<int> perm(cols);
    std::iota(perm.begin(), perm.end(), 0);
    do {  // row i gets perm[i]
      int64_t sum = 0;
      for (size_t i = 0; i < rows; ++i) sum += w[i][perm[i]];
      best = std::max(best, sum);
    } while (std::next_permutation(perm.begin(), perm.end()));
  } else {
    std::vector<int> perm(rows);
    std::iota(perm.begin(), perm.end(), 0);
    do {  // column j gets row perm[j]
      int64_t sum = 0;
      for (size_t j = 0; j < cols; ++j) sum += w[perm[j]][j];
      best = std::max(best, sum);
    } while (std::next_permutation(perm.begin(), perm.end()));
  }
  return best;
}

void ExpectValidAssignment(const std::vector<int>& col, size_t rows, size_t cols) {
  ASSERT_EQ(col.size(), rows);
  std::vector<int> taken(cols, 0);
  size_t assigned = 0;
  for (int c : col) {
    if (c < 0) continue;
    ASSERT_LT(static_cast<size_t>(c), cols);
    EXPECT_EQ(taken[c]++, 0) << "column " << c << " given twice";
    ++assigned;
  }
  EXPECT_EQ(assigned, std::min(rows, cols)) << "the smaller side is assigned in full";
}

TEST(MaxWeightAssignmentTest, MatchesBruteForceOnSmallRandomMatrices) {
  std::mt19937 rng(20240611);
  // Value ranges: ties and zeros everywhere, small, wide, negative, all equal.
  const std::vector<std::pair<int64_t, int64_t>> ranges = {{0, 1},    {0, 3}, {0, 1000},
                                                           {-50, 50}, {7, 7}, {0, int64_t{1} << 40}};
  int checked = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const size_t rows = 1 + rng() % 7;
    const size_t cols = 1 + rng() % 7;
    const auto [lo, hi] = ranges[trial % ranges.size()];
    std::uniform_int_distribution<int64_t> value(lo, hi);
    std::vector<std::vector<int64_t>> w(rows, std::vector<int64_t>(cols));
    for (auto& row : w) {
      for (int64_t& x : row) x = value(rng);
    }
    const std::vector<int> col = MaxWeightAssignment(w);
    ExpectValidAssignment(col, rows, cols);
    ASSERT_EQ(Total(w, col), BruteForce(w, cols)) << "trial " << trial << ", " << rows << "x" << cols;
    ++checked;
  }
  EXPECT_EQ(checked, 3000);
}

TEST(MaxWeightAssignmentTest, EmptyAndDegenerateShapes) {
  EXPECT_TRUE(MaxWeightAssignment({}).empty());
  EXPECT_EQ(MaxWeightAssignment({{}, {}}), (std::vector<int>{-1, -1})) << "rows without columns";
  EXPECT_EQ(MaxWeightAssignment({{5}}), (std::vector<int>{0}));
  EXPECT_EQ(MaxWeightAssignment({{1, 9, 3}}), (std::vector<int>{1}));
  const std::vector<int> col = MaxWeightAssignment({{1}, {9}, {3}});
  EXPECT_EQ(col, (std::vector<int>{-1, 0, -1}));
}

TEST(MaxWeightAssignmentTest, BeatsGreedy) {
  // Greedy takes the 10 and is left with 0; the optimum is 9 + 9.
  const std::vector<int> col = MaxWeightAssignment({{10, 9}, {9, 0}});
  EXPECT_EQ(col, (std::vector<int>{1, 0}));
}

// ---- The plan: builders ------------------------------------------------------------------------

constexpr uint64_t kGiB = uint64_t{1} << 30;

DisplacedRequest Request(const std::string& id, uint32_t prompt_tokens = 100, uint64_t prefix_hash = 0,
                         uint32_t committed_tokens = 0) {
  DisplacedRequest r;
  r.id = id;
  r.prompt_tokens = prompt_tokens;
  r.prefix_hash = prefix_hash;
  r.committed_tokens = committed_tokens;
  return r;
}

DisplacedModel Model(const std::string& name, uint64_t bytes, std::vector<DisplacedRequest> requests = {}) {
  DisplacedModel m;
  m.name = name;
  m.bytes = bytes;
  m.kv_block_bytes = 1 << 20;
  m.requests = std::move(requests);
  return m;
}

SurvivorModel Cold(const std::string& name) { return {name, Residency::kCold}; }
SurvivorModel Staged(const std::string& name) { return {name, Residency::kStaged}; }
SurvivorModel Warm(const std::string& name) { return {name, Residency::kWarm}; }

SurvivorNode Node(const std::string& name, bool spot, uint64_t free_bytes, uint32_t slots,
                  std::vector<SurvivorModel> models, std::vector<SurvivorPrefix> prefixes = {}) {
  SurvivorNode n;
  n.name = name;
  n.spot = spot;
  n.free_bytes = free_bytes;
  n.free_request_slots = slots;
  n.models = std::move(models);
  n.prefix_cache = std::move(prefixes);
  return n;
}

MigrationInput Input(std::vector<DisplacedModel> displaced, std::vector<SurvivorNode> survivors) {
  MigrationInput in;
  in.displaced = std::move(displaced);
  in.survivors = std::move(survivors);
  return in;
}

// The node a model moves to, or "" when it is not moved.
std::string TargetOf(const MigrationPlan& p, const std::string& model) {
  for (const MigrationMove& m : p.moves) {
    if (m.model == model) return m.node;
  }
  return "";
}

std::string Describe(const MigrationPlan& p) {
  std::ostringstream out;
  for (const MigrationMove& m : p.moves) {
    out << m.model << "->" << m.node << " r" << static_cast<int>(m.residency) << " b" << m.reused_bytes << " p"
        << m.reused_prefix_blocks << " w" << m.reuse << " [";
    for (const std::string& id : m.requests) out << id << ",";
    out << "]; ";
  }
  for (const UnplacedModel& u : p.unplaced) {
    out << u.model << " unplaced(" << static_cast<int>(u.reason) << ") [";
    for (const std::string& id : u.requests) out << id << ",";
    out << "]; ";
  }
  out << "total " << p.total_reuse;
  return out.str();
}

// ---- The plan: hand-made clusters -------------------------------------------------------------

TEST(MigrationPlanTest, WarmBeatsStagedBeatsCold) {
  // Names favour the cold node, so only the reuse can send the model elsewhere.
  std::vector<SurvivorNode> nodes = {
      Node("a-cold", false, 100 * kGiB, 8, {Cold("m")}),
      Node("b-staged", false, 100 * kGiB, 8, {Staged("m")}),
      Node("c-warm", false, 100 * kGiB, 8, {Warm("m")}),
  };
  MigrationPlan p = PlanMigration(Input({Model("m", 10 * kGiB, {Request("r1")})}, nodes));
  ASSERT_EQ(p.moves.size(), 1u);
  EXPECT_EQ(p.moves[0].node, "c-warm");
  EXPECT_EQ(p.moves[0].residency, Residency::kWarm);
  EXPECT_EQ(p.moves[0].reused_bytes, 10 * kGiB);
  EXPECT_EQ(p.moves[0].reuse, static_cast<int64_t>(10 * kGiB) * kWarmReuse);
  EXPECT_EQ(p.moves[0].requests, std::vector<std::string>{"r1"});
  EXPECT_EQ(p.total_reuse, p.moves[0].reuse);

  nodes.pop_back();
  p = PlanMigration(Input({Model("m", 10 * kGiB)}, nodes));
  EXPECT_EQ(TargetOf(p, "m"), "b-staged");
  EXPECT_EQ(p.moves[0].reuse, static_cast<int64_t>(10 * kGiB) * kStagedReuse);

  nodes.pop_back();
  p = PlanMigration(Input({Model("m", 10 * kGiB)}, nodes));
  EXPECT_EQ(TargetOf(p, "m"), "a-cold");
  EXPECT_EQ(p.moves[0].residency, Residency::kCold);
  EXPECT_EQ(p.total_reuse, 0);
}

TEST(MigrationPlanTest, TheWeightsOrderWarmStagedCold) {
  static_assert(kWarmReuse > kStagedReuse && kStagedReuse > 0, "warm beats staged beats cold");
  static_assert(kWarmReuse <= kReuseScale && kPrefixReuse <= kReuseScale, "at most full weight");
}

TEST(MigrationPlanTest, TheGlobalOptimumBeatsGreedy) {
  // One request slot each: a greedy "A to where it is warm" leaves B cold (4 units a byte);
  // A staged on n2 and B staged on n1 reuse 3 + 3.
  const MigrationPlan p = PlanMigration(Input({Model("A", 100, {Request("a1")}), Model("B", 100, {Request("b1")})},
                                              {
                                                  Node("n1", false, 1000, 1, {Warm("A"), Staged("B")}),
                                                  Node("n2", false, 1000, 1, {Staged("A"), Cold("B")}),
                                              }));
  EXPECT_EQ(TargetOf(p, "A"), "n2");
  EXPECT_EQ(TargetOf(p, "B"), "n1");
  EXPECT_EQ(p.total_reuse, 2 * 100 * kStagedReuse);
}

TEST(MigrationPlanTest, PrefixBlocksBreakATie) {
  // Both nodes staged: node-b holds 3 blocks of r1's prefix and wins over node-a (first by name).
  const MigrationPlan p =
      PlanMigration(Input({Model("m", kGiB, {Request("r1", 100, 0xabc), Request("r2", 100, 0xdef)})},
                          {
                              Node("node-a", false, 10 * kGiB, 8, {Staged("m")}, {{"other", 0xabc, 50}}),
                              Node("node-b", false, 10 * kGiB, 8, {Staged("m")}, {{"m", 0xabc, 3}}),
                          }));
  EXPECT_EQ(TargetOf(p, "m"), "node-b");
  EXPECT_EQ(p.moves[0].reused_prefix_blocks, 3u);
  EXPECT_EQ(p.moves[0].reuse, static_cast<int64_t>(kGiB) * kStagedReuse + 3 * (1 << 20) * kPrefixReuse);
  // Without the prefix, the name decides: node-a (another model's blocks do not count).
  const MigrationPlan q =
      PlanMigration(Input({Model("m", kGiB, {Request("r2", 100, 0xdef)})},
                          {
                              Node("node-a", false, 10 * kGiB, 8, {Staged("m")}, {{"other", 0xabc, 50}}),
                              Node("node-b", false, 10 * kGiB, 8, {Staged("m")}, {{"m", 0xabc, 3}}),
                          }));
  EXPECT_EQ(TargetOf(q, "m"), "node-a");
  EXPECT_EQ(q.moves[0].reused_prefix_blocks, 0u);
}

TEST(MigrationPlanTest, PrefixBlocksAreCappedByWhatTheRequestRecomputes) {
  // 40 prompt + 8 committed tokens, 16 a block: 3 blocks at most, though 100 are cached.
  const MigrationPlan p = PlanMigration(Input({Model("m", kGiB, {Request("r1", 40, 7, 8)})},
                                              {Node("n", false, 10 * kGiB, 8, {Cold("m")}, {{"m", 7, 100}})}));
  ASSERT_EQ(p.moves.size(), 1u);
  EXPECT_EQ(p.moves[0].reused_prefix_blocks, 3u);
}

TEST(MigrationPlanTest, OnDemandBeforeSpotUnlessTheSpotNodeReusesMore) {
  const MigrationPlan p = PlanMigration(Input({Model("m", kGiB)}, {
                                                                      Node("a-spot", true, 10 * kGiB, 8, {Cold("m")}),
                                                                      Node("b-od", false, 10 * kGiB, 8, {Cold("m")}),
                                                                  }));
  EXPECT_EQ(TargetOf(p, "m"), "b-od");
  const MigrationPlan q = PlanMigration(Input({Model("m", kGiB)}, {
                                                                      Node("a-spot", true, 10 * kGiB, 8, {Warm("m")}),
                                                                      Node("b-od", false, 10 * kGiB, 8, {Cold("m")}),
                                                                  }));
  EXPECT_EQ(TargetOf(q, "m"), "a-spot") << "reuse comes before the instance type";
}

TEST(MigrationPlanTest, RoomAndRequestSlotsAreRespected) {
  // Two 60-byte models, two nodes with room for one each.
  MigrationPlan p =
      PlanMigration(Input({Model("x", 60), Model("y", 60)}, {
                                                                Node("n1", false, 100, 8, {Cold("x"), Cold("y")}),
                                                                Node("n2", false, 100, 8, {Cold("x"), Cold("y")}),
                                                            }));
  ASSERT_EQ(p.moves.size(), 2u);
  EXPECT_NE(TargetOf(p, "x"), TargetOf(p, "y"));
  // Three requests: only the node with three slots takes the model, though the other is warm.
  p = PlanMigration(
      Input({Model("m", 10, {Request("1"), Request("2"), Request("3")})}, {
                                                                              Node("n1", false, 100, 2, {Warm("m")}),
                                                                              Node("n2", false, 100, 3, {Cold("m")}),
                                                                          }));
  EXPECT_EQ(TargetOf(p, "m"), "n2");
  // A node that does not serve the model never gets it, however much room it has.
  p = PlanMigration(Input({Model("m", 10)}, {Node("n1", false, 1000, 8, {Cold("other")})}));
  EXPECT_TRUE(p.moves.empty());
  ASSERT_EQ(p.unplaced.size(), 1u);
  EXPECT_EQ(p.unplaced[0].reason, UnplacedReason::kFitsNowhere);
}

TEST(MigrationPlanTest, AModelTooLargeForEveryNodeIsUnplacedUnlessWarmSomewhere) {
  MigrationPlan p = PlanMigration(Input({Model("big", 80 * kGiB, {Request("r1"), Request("r2")}), Model("small", kGiB)},
                                        {
                                            Node("n1", false, 40 * kGiB, 8, {Cold("big"), Cold("small")}),
                                            Node("n2", true, 60 * kGiB, 8, {Staged("big"), Cold("small")}),
                                        }));
  EXPECT_EQ(TargetOf(p, "small"), "n1");
  ASSERT_EQ(p.unplaced.size(), 1u);
  EXPECT_EQ(p.unplaced[0].model, "big");
  EXPECT_EQ(p.unplaced[0].reason, UnplacedReason::kFitsNowhere);
  EXPECT_EQ(p.unplaced[0].requests, (std::vector<std::string>{"r1", "r2"}));
  // Warm already: its bytes are in use there, it needs no room.
  p = PlanMigration(Input({Model("big", 80 * kGiB)}, {Node("n1", false, 0, 8, {Warm("big")})}));
  EXPECT_EQ(TargetOf(p, "big"), "n1");
}

TEST(MigrationPlanTest, RoomTakenByAModelThatReusesMore) {
  // One node with room for one: the staged model gets it, the other waits.
  const MigrationPlan p =
      PlanMigration(Input({Model("a", 60), Model("b", 60)}, {Node("n1", false, 100, 8, {Cold("a"), Staged("b")})}));
  EXPECT_EQ(TargetOf(p, "b"), "n1");
  ASSERT_EQ(p.unplaced.size(), 1u);
  EXPECT_EQ(p.unplaced[0].model, "a");
  EXPECT_EQ(p.unplaced[0].reason, UnplacedReason::kRoomTaken);
}

TEST(MigrationPlanTest, ModelsThatDoNotFitTogetherAreAssignedAgainInWhatRoomIsLeft) {
  // Room 100 could hold 2 of {60, 50, 30}: the first round picks the two staged ones (110, too
  // much together); the node keeps A (more reuse), and C fits in the 40 left.
  const MigrationPlan p = PlanMigration(Input({Model("A", 60), Model("B", 50), Model("C", 30)},
                                              {Node("n", false, 100, 8, {Staged("A"), Staged("B"), Cold("C")})}));
  EXPECT_EQ(TargetOf(p, "A"), "n");
  EXPECT_EQ(TargetOf(p, "C"), "n");
  ASSERT_EQ(p.unplaced.size(), 1u);
  EXPECT_EQ(p.unplaced[0].model, "B");
  EXPECT_EQ(p.unplaced[0].reason, UnplacedReason::kRoomTaken);
}

TEST(MigrationPlanTest, SeveralModelsShareANodeWithRoom) {
  const MigrationPlan p = PlanMigration(Input({Model("a", 10), Model("b", 10), Model("c", 10)},
                                              {
                                                  Node("big", false, 100, 8, {Staged("a"), Staged("b"), Staged("c")}),
                                                  Node("small", false, 10, 8, {Cold("a"), Cold("b"), Cold("c")}),
                                              }));
  EXPECT_EQ(TargetOf(p, "a"), "big");
  EXPECT_EQ(TargetOf(p, "b"), "big");
  EXPECT_EQ(TargetOf(p, "c"), "big");
  EXPECT_TRUE(p.unplaced.empty());
}

TEST(MigrationPlanTest, EdgeCases) {
  MigrationPlan p = PlanMigration(Input({Model("a", 10, {Request("r")}), Model("b", 10)}, {}));
  EXPECT_TRUE(p.moves.empty()) << "no survivors";
  ASSERT_EQ(p.unplaced.size(), 2u);
  EXPECT_EQ(p.unplaced[0].model, "a");
  EXPECT_EQ(p.unplaced[0].reason, UnplacedReason::kFitsNowhere);
  EXPECT_EQ(p.unplaced[0].requests, std::vector<std::string>{"r"});

  p = PlanMigration(Input({}, {Node("n", false, 100, 8, {Cold("a")})}));
  EXPECT_TRUE(p.moves.empty()) << "no displaced work";
  EXPECT_TRUE(p.unplaced.empty());
  EXPECT_EQ(p.total_reuse, 0);

  p = PlanMigration(Input({}, {}));
  EXPECT_TRUE(p.moves.empty());
  EXPECT_TRUE(p.unplaced.empty());

  // A model with no requests needs no slots; block_tokens 0 counts as 1.
  MigrationInput in =
      Input({Model("m", 10, {Request("r", 5, 1)})}, {Node("n", false, 100, 1, {Cold("m")}, {{"m", 1, 9}})});
  in.block_tokens = 0;
  p = PlanMigration(in);
  ASSERT_EQ(p.moves.size(), 1u);
  EXPECT_EQ(p.moves[0].reused_prefix_blocks, 5u);
  p = PlanMigration(Input({Model("m", 10)}, {Node("n", false, 100, 0, {Cold("m")})}));
  EXPECT_EQ(TargetOf(p, "m"), "n");
}

// ---- The plan: random clusters ---------------------------------------------------------------

MigrationInput RandomInput(std::mt19937& rng, bool ample_room) {
  const int num_models = static_cast<int>(rng() % 5);
  const int num_nodes = static_cast<int>(rng() % 4);
  MigrationInput in;
  in.block_tokens = 16;
  const char* kNames[] = {"m0", "m1", "m2", "m3", "m4"};
  const char* kNodes[] = {"n0", "n1", "n2", "n3"};
  for (int i = 0; i < num_models; ++i) {
    DisplacedModel m = Model(kNames[i], 10 + rng() % 10);
    m.kv_block_bytes = rng() % 3;
    const int num_requests = static_cast<int>(rng() % 3);
    for (int r = 0; r < num_requests; ++r) {
      m.requests.push_back(
          Request(std::string(kNames[i]) + "-" + std::to_string(r), rng() % 64, rng() % 3, rng() % 32));
    }
    in.displaced.push_back(std::move(m));
  }
  for (int j = 0; j < num_nodes; ++j) {
    SurvivorNode n;
    n.name = kNodes[j];
    n.spot = rng() % 2 == 0;
    // Ample: everything fits together. Tight: room for one model at most, none warm, so that
    // no node is ever given two models (where the plan is exact).
    n.free_bytes = ample_room ? 1000 : rng() % 20;
    n.free_request_slots = ample_room ? 100 : static_cast<uint32_t>(rng() % 4);
    for (int i = 0; i < num_models; ++i) {
      const int r = static_cast<int>(rng() % (ample_room ? 4 : 3));
      if (r == 0) continue;  // does not serve it
      n.models.push_back({kNames[i], r == 1 ? Residency::kCold : r == 2 ? Residency::kStaged : Residency::kWarm});
      if (rng() % 2 == 0) n.prefix_cache.push_back({kNames[i], rng() % 3, static_cast<uint32_t>(rng() % 5)});
    }
    in.survivors.push_back(std::move(n));
  }
  return in;
}

// The header's objective, keys 1-4, for a given plan.
using Key = std::tuple<int, int64_t, int, int64_t>;

Key KeyOf(const MigrationInput& in, const MigrationPlan& p) {
  Key k{0, 0, 0, 0};
  std::vector<std::string> names;
  for (const SurvivorNode& n : in.survivors) names.push_back(n.name);
  std::sort(names.begin(), names.end());
  for (const MigrationMove& m : p.moves) {
    const auto node =
        std::find_if(in.survivors.begin(), in.survivors.end(), [&](const SurvivorNode& n) { return n.name == m.node; });
    std::get<0>(k) += 1;
    std::get<1>(k) += m.reuse;
    std::get<2>(k) += node->spot ? 0 : 1;
    std::get<3>(k) +=
        static_cast<int64_t>(names.size()) - 1 - (std::find(names.begin(), names.end(), m.node) - names.begin());
  }
  return k;
}

// Checks that the plan respects room, request slots and which models a node serves.
void ExpectFeasible(const MigrationInput& in, const MigrationPlan& p) {
  for (const SurvivorNode& n : in.survivors) {
    uint64_t bytes = 0, requests = 0;
    for (const MigrationMove& m : p.moves) {
      if (m.node != n.name) continue;
      const auto model = std::find_if(in.displaced.begin(), in.displaced.end(),
                                      [&](const DisplacedModel& d) { return d.name == m.model; });
      const auto served =
          std::find_if(n.models.begin(), n.models.end(), [&](const SurvivorModel& s) { return s.name == m.model; });
      ASSERT_NE(served, n.models.end()) << n.name << " does not serve " << m.model;
      EXPECT_EQ(served->residency, m.residency);
      if (served->residency != Residency::kWarm) bytes += model->bytes;
      requests += model->requests.size();
    }
    EXPECT_LE(bytes, n.free_bytes) << n.name;
    EXPECT_LE(requests, n.free_request_slots) << n.name;
  }
  EXPECT_EQ(p.moves.size() + p.unplaced.size(), in.displaced.size());
}

// Every way to send each model to a node or nowhere that respects the constraints: the best key.
Key BruteForcePlan(const MigrationInput& in) {
  Key best{-1, 0, 0, 0};
  const size_t nm = in.displaced.size(), nn = in.survivors.size();
  std::vector<size_t> choice(nm, 0);  // nn: nowhere
  while (true) {
    MigrationPlan p;
    bool ok = true;
    std::vector<uint64_t> bytes(nn, 0), requests(nn, 0);
    for (size_t i = 0; i < nm && ok; ++i) {
      if (choice[i] == nn) continue;
      const SurvivorNode& n = in.survivors[choice[i]];
      const DisplacedModel& d = in.displaced[i];
      const auto served =
          std::find_if(n.models.begin(), n.models.end(), [&](const SurvivorModel& s) { return s.name == d.name; });
      if (served == n.models.end()) {
        ok = false;
        break;
      }
      if (served->residency != Residency::kWarm) bytes[choice[i]] += d.bytes;
      requests[choice[i]] += d.requests.size();
      ok = bytes[choice[i]] <= n.free_bytes && requests[choice[i]] <= n.free_request_slots;
      // The reuse of this move, computed as the header says.
      MigrationMove m;
      m.model = d.name;
      m.node = n.name;
      int64_t reuse = served->residency == Residency::kWarm     ? static_cast<int64_t>(d.bytes) * kWarmReuse
                      : served->residency == Residency::kStaged ? static_cast<int64_t>(d.bytes) * kStagedReuse
                                                                : 0;
      for (const DisplacedRequest& r : d.requests) {
        for (const SurvivorPrefix& c : n.prefix_cache) {
          if (c.model == d.name && c.prefix_hash == r.prefix_hash) {
            const int64_t blocks =
                std::min<int64_t>(c.blocks, (r.prompt_tokens + r.committed_tokens) / in.block_tokens);
            reuse += blocks * static_cast<int64_t>(std::max<uint64_t>(1, d.kv_block_bytes)) * kPrefixReuse;
          }
        }
      }
      m.reuse = reuse;
      p.moves.push_back(m);
    }
    if (ok) best = std::max(best, KeyOf(in, p));
    size_t i = 0;
    while (i < nm && ++choice[i] > nn) choice[i++] = 0;
    if (i == nm) break;
  }
  return best;
}

TEST(MigrationPlanTest, MatchesBruteForceWhereExactAndIsAlwaysFeasible) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 1500; ++trial) {
    const bool ample = trial % 2 == 0;
    MigrationInput in = RandomInput(rng, ample);
    if (!ample) {  // tight: nothing warm, so every node takes one model at most
      for (SurvivorNode& n : in.survivors) {
        for (SurvivorModel& m : n.models) {
          if (m.residency == Residency::kWarm) m.residency = Residency::kStaged;
        }
      }
    }
    const MigrationPlan p = PlanMigration(in);
    ExpectFeasible(in, p);
    ASSERT_EQ(KeyOf(in, p), BruteForcePlan(in)) << "trial " << trial << ": " << Describe(p);
  }
}

TEST(MigrationPlanTest, GeneralClustersAreFeasibleAndReasonsTrue) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 1500; ++trial) {
    MigrationInput in = RandomInput(rng, false);
    for (SurvivorNode& n : in.survivors) {  // room for one to three models, warm copies allowed
      n.free_bytes = 20 + rng() % 40;
      n.free_request_slots = static_cast<uint32_t>(rng() % 6);
      if (rng() % 3 == 0 && !n.models.empty()) n.models[0].residency = Residency::kWarm;
    }
    const MigrationPlan p = PlanMigration(in);
    ExpectFeasible(in, p);
    for (const UnplacedModel& u : p.unplaced) {
      // kFitsNowhere: no survivor alone could take it.
      const auto& d = *std::find_if(in.displaced.begin(), in.displaced.end(),
                                    [&](const DisplacedModel& x) { return x.name == u.model; });
      bool fits_alone = false;
      for (const SurvivorNode& n : in.survivors) {
        for (const SurvivorModel& s : n.models) {
          fits_alone |= s.name == d.name && (s.residency == Residency::kWarm || d.bytes <= n.free_bytes) &&
                        d.requests.size() <= n.free_request_slots;
        }
      }
      EXPECT_EQ(u.reason == UnplacedReason::kRoomTaken, fits_alone) << Describe(p);
    }
  }
}

TEST(MigrationPlanTest, DeterministicInAnyInputOrder) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 300; ++trial) {
    MigrationInput in = RandomInput(rng, trial % 2 == 0);
    const std::string expected = Describe(PlanMigration(in));
    for (int k = 0; k < 4; ++k) {
      std::shuffle(in.displaced.begin(), in.displaced.end(), rng);
      std::shuffle(in.survivors.begin(), in.survivors.end(), rng);
      for (SurvivorNode& n : in.survivors) std::shuffle(n.prefix_cache.begin(), n.prefix_cache.end(), rng);
      ASSERT_EQ(Describe(PlanMigration(in)), expected) << "trial " << trial;
    }
  }
}

TEST(MigrationPlanTest, IdenticalNodesAreChosenByName) {
  // Equal reuse everywhere: on-demand first, then the name, whatever the input order.
  const MigrationPlan p =
      PlanMigration(Input({Model("x", 10), Model("y", 10)}, {
                                                                Node("d", false, 10, 8, {Cold("x"), Cold("y")}),
                                                                Node("a", true, 10, 8, {Cold("x"), Cold("y")}),
                                                                Node("c", false, 10, 8, {Cold("x"), Cold("y")}),
                                                                Node("b", false, 10, 8, {Cold("x"), Cold("y")}),
                                                            }));
  ASSERT_EQ(p.moves.size(), 2u);
  std::vector<std::string> used = {p.moves[0].node, p.moves[1].node};
  std::sort(used.begin(), used.end());
  EXPECT_EQ(used, (std::vector<std::string>{"b", "c"}));
}

}  // namespace
}  // namespace hearth::scheduler
