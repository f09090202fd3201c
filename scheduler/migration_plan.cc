#include "scheduler/migration_plan.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "common/check.h"

namespace hearth::scheduler {
namespace {

// The plan's weights fold four keys into one integer (header, orders 1-4), which needs more
// than 64 bits; GCC and Clang both have a 128-bit integer.
__extension__ typedef __int128 Int128;

constexpr Int128 kInf = static_cast<Int128>(1) << 120;
constexpr size_t kMaxCount = 4096;
// One move's reuse is clamped here (64 TiB at full weight), so 4,096 of them add up in 64 bits.
constexpr int64_t kMaxReuse = int64_t{1} << 48;

// Minimum-cost assignment of n rows to distinct columns of m >= n (the Hungarian algorithm with
// potentials, O(n^2 * m)): `cost(i, j)` for row i, column j. Returns each row's column.
template <typename CostFn>
std::vector<int> MinCostRowsToColumns(int n, int m, CostFn cost) {
  CHECK_LE(n, m);
  // 1-based: column 0 is the virtual column a row starts from; p[j] is column j's row (0: none).
  std::vector<Int128> u(n + 1, 0), v(m + 1, 0), minv(m + 1);
  std::vector<int> p(m + 1, 0), way(m + 1, 0);
  std::vector<char> used(m + 1);
  for (int i = 1; i <= n; ++i) {
    p[0] = i;
    int j0 = 0;
    std::fill(minv.begin(), minv.end(), kInf);
    std::fill(used.begin(), used.end(), 0);
    do {  // grow a shortest augmenting path from row i until it ends in a free column
      used[j0] = 1;
      const int i0 = p[j0];
      Int128 delta = kInf;
      int j1 = 0;
      for (int j = 1; j <= m; ++j) {
        if (used[j]) continue;
        const Int128 reduced = cost(i0 - 1, j - 1) - u[i0] - v[j];
        if (reduced < minv[j]) {
          minv[j] = reduced;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (int j = 0; j <= m; ++j) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {  // flip the path
      const int j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 != 0);
  }
  std::vector<int> col(n, -1);
  for (int j = 1; j <= m; ++j) {
    if (p[j] != 0) col[p[j] - 1] = j - 1;
  }
  return col;
}

// Maximum weight over rows x cols, either side the smaller: each row's column or -1.
template <typename WeightFn>
std::vector<int> MaxWeight(int rows, int cols, WeightFn weight) {
  if (rows <= cols) {
    return MinCostRowsToColumns(rows, cols, [&](int i, int j) { return -static_cast<Int128>(weight(i, j)); });
  }
  const std::vector<int> row_of_col =
      MinCostRowsToColumns(cols, rows, [&](int j, int i) { return -static_cast<Int128>(weight(i, j)); });
  std::vector<int> col(rows, -1);
  for (int j = 0; j < cols; ++j) col[row_of_col[j]] = j;
  return col;
}

// One displaced model on one survivor: what it would reuse there.
struct Option {
  bool serves = false;  // the model is one of the node's
  Residency residency = Residency::kCold;
  uint64_t reused_bytes = 0;
  uint64_t prefix_blocks = 0;
  int64_t reuse = 0;
};

// A survivor and what is left of it as models are committed to it.
struct Target {
  const SurvivorNode* node = nullptr;
  uint64_t room = 0;
  uint32_t slots = 0;
  int64_t name_rank = 0;  // among all survivors, by name
};

Option OptionFor(const DisplacedModel& model, const SurvivorNode& node, uint32_t block_tokens) {
  Option o;
  for (const SurvivorModel& m : node.models) {
    if (m.name != model.name) continue;
    o.serves = true;
    o.residency = std::max(o.residency, m.residency);  // listed twice: the better state
  }
  if (!o.serves) return o;
  std::map<uint64_t, uint32_t> cached;  // this model's prefixes on the node
  for (const SurvivorPrefix& c : node.prefix_cache) {
    if (c.model == model.name) cached[c.prefix_hash] = std::max(cached[c.prefix_hash], c.blocks);
  }
  for (const DisplacedRequest& r : model.requests) {
    auto it = cached.find(r.prefix_hash);
    if (it == cached.end()) continue;
    // The hash names only the first tokens; no more blocks match than the request recomputes.
    const uint64_t tokens = uint64_t{r.prompt_tokens} + r.committed_tokens;
    o.prefix_blocks += std::min<uint64_t>(it->second, tokens / block_tokens);
  }
  Int128 reuse = 0;
  if (o.residency != Residency::kCold) {
    o.reused_bytes = model.bytes;
    reuse += static_cast<Int128>(model.bytes) * (o.residency == Residency::kWarm ? kWarmReuse : kStagedReuse);
  }
  reuse += static_cast<Int128>(o.prefix_blocks) * std::max<uint64_t>(1, model.kv_block_bytes) * kPrefixReuse;
  o.reuse = static_cast<int64_t>(std::min<Int128>(reuse, kMaxReuse));
  return o;
}

bool Fits(const DisplacedModel& model, const Option& o, const Target& t) {
  return o.serves && (o.residency == Residency::kWarm || model.bytes <= t.room) && model.requests.size() <= t.slots;
}

uint64_t RoomNeeded(const DisplacedModel& model, const Option& o) {
  return o.residency == Residency::kWarm ? 0 : model.bytes;
}

// How many of `pending` the target could hold together, at most: the count of the smallest
// that fit its room, and of those that fit its request slots, whichever is less.
int SlotCount(const std::vector<const DisplacedModel*>& models, const std::vector<std::vector<Option>>& options,
              const std::vector<int>& pending, const Target& t, int target_index) {
  std::vector<uint64_t> bytes, requests;
  for (int m : pending) {
    const Option& o = options[m][target_index];
    if (!Fits(*models[m], o, t)) continue;
    bytes.push_back(RoomNeeded(*models[m], o));
    requests.push_back(models[m]->requests.size());
  }
  auto greedy = [](std::vector<uint64_t>& need, uint64_t have) {
    std::sort(need.begin(), need.end());
    int count = 0;
    for (uint64_t n : need) {
      if (n > have) break;
      have -= n;
      ++count;
    }
    return count;
  };
  return std::min(greedy(bytes, t.room), greedy(requests, t.slots));
}

}  // namespace

std::vector<int> MaxWeightAssignment(const std::vector<std::vector<int64_t>>& weight) {
  const int rows = static_cast<int>(weight.size());
  const int cols = rows == 0 ? 0 : static_cast<int>(weight[0].size());
  for (const auto& row : weight) CHECK_EQ(static_cast<int>(row.size()), cols);
  return MaxWeight(rows, cols, [&](int i, int j) { return weight[i][j]; });
}

MigrationPlan PlanMigration(const MigrationInput& input) {
  CHECK_LE(input.displaced.size(), kMaxCount);
  CHECK_LE(input.survivors.size(), kMaxCount);
  const uint32_t block_tokens = std::max<uint32_t>(1, input.block_tokens);

  std::vector<const DisplacedModel*> models;
  for (const DisplacedModel& m : input.displaced) models.push_back(&m);
  std::stable_sort(models.begin(), models.end(),
                   [](const DisplacedModel* a, const DisplacedModel* b) { return a->name < b->name; });

  std::vector<Target> targets;
  for (const SurvivorNode& n : input.survivors) {
    Target t;
    t.node = &n;
    t.room = n.free_bytes;
    t.slots = n.free_request_slots;
    targets.push_back(t);
  }
  std::stable_sort(targets.begin(), targets.end(), [](const Target& a, const Target& b) {
    return std::tie(a.node->spot, a.node->name) < std::tie(b.node->spot, b.node->name);
  });
  std::vector<const SurvivorNode*> by_name;
  for (const Target& t : targets) by_name.push_back(t.node);
  std::stable_sort(by_name.begin(), by_name.end(),
                   [](const SurvivorNode* a, const SurvivorNode* b) { return a->name < b->name; });
  for (Target& t : targets) {
    t.name_rank = std::find(by_name.begin(), by_name.end(), t.node) - by_name.begin();
  }

  std::vector<std::vector<Option>> options(models.size());  // [model][target]
  for (size_t m = 0; m < models.size(); ++m) {
    for (const Target& t : targets) options[m].push_back(OptionFor(*models[m], *t.node, block_tokens));
  }
  const std::vector<Target> initial = targets;

  MigrationPlan plan;
  std::vector<int> pending(models.size());
  for (size_t m = 0; m < models.size(); ++m) pending[m] = static_cast<int>(m);
  while (!pending.empty()) {
    std::vector<int> column_target;
    for (size_t t = 0; t < targets.size(); ++t) {
      const int slots = SlotCount(models, options, pending, targets[t], static_cast<int>(t));
      column_target.insert(column_target.end(), slots, static_cast<int>(t));
    }
    if (column_target.empty()) break;

    // One integer for the header's orders 1-4: each key's largest possible total over all rows
    // is less than one unit of the key before it, so maximizing the sum is lexicographic.
    const Int128 rows = static_cast<Int128>(pending.size());
    const Int128 nodes = static_cast<Int128>(targets.size());
    const Int128 on_demand_unit = rows * nodes + 1;  // > the sum of rows' name terms
    const Int128 max_tie = on_demand_unit + nodes;   // one cell's keys 3 and 4
    const Int128 reuse_unit = rows * max_tie + 1;    // > the sum of rows' keys 3 and 4
    int64_t max_reuse = 0;
    for (int m : pending) {
      for (const Option& o : options[m]) max_reuse = std::max(max_reuse, o.reuse);
    }
    const Int128 placed_unit = rows * (max_reuse * reuse_unit + max_tie) + 1;
    auto weight = [&](int r, int c) -> Int128 {
      const int m = pending[r];
      const int t = column_target[c];
      const Option& o = options[m][t];
      if (!Fits(*models[m], o, targets[t])) return 0;
      const Int128 tie = (targets[t].node->spot ? 0 : on_demand_unit) + (nodes - 1 - targets[t].name_rank);
      return placed_unit + o.reuse * reuse_unit + tie;
    };
    const std::vector<int> col =
        MaxWeight(static_cast<int>(pending.size()), static_cast<int>(column_target.size()), weight);

    std::vector<std::vector<int>> picks(targets.size());  // model indices, per target
    for (size_t r = 0; r < pending.size(); ++r) {
      if (col[r] < 0 || weight(static_cast<int>(r), col[r]) == 0) continue;
      picks[column_target[col[r]]].push_back(pending[r]);
    }
    // Commit each node's picks that fit together, most reuse first; the rest go round again.
    std::vector<char> placed(models.size(), 0);
    bool any = false;
    for (size_t t = 0; t < targets.size(); ++t) {
      std::stable_sort(picks[t].begin(), picks[t].end(),
                       [&](int a, int b) { return options[a][t].reuse > options[b][t].reuse; });
      for (int m : picks[t]) {
        const Option& o = options[m][t];
        if (!Fits(*models[m], o, targets[t])) continue;
        targets[t].room -= RoomNeeded(*models[m], o);
        targets[t].slots -= static_cast<uint32_t>(models[m]->requests.size());
        MigrationMove move;
        move.model = models[m]->name;
        move.node = targets[t].node->name;
        move.residency = o.residency;
        move.reused_bytes = o.reused_bytes;
        move.reused_prefix_blocks = o.prefix_blocks;
        move.reuse = o.reuse;
        for (const DisplacedRequest& r : models[m]->requests) move.requests.push_back(r.id);
        plan.total_reuse += o.reuse;
        plan.moves.push_back(std::move(move));
        placed[m] = 1;
        any = true;
      }
    }
    if (!any) break;
    std::erase_if(pending, [&](int m) { return placed[m] != 0; });
  }

  for (int m : pending) {
    UnplacedModel u;
    u.model = models[m]->name;
    for (size_t t = 0; t < initial.size(); ++t) {
      if (Fits(*models[m], options[m][t], initial[t])) u.reason = UnplacedReason::kRoomTaken;
    }
    for (const DisplacedRequest& r : models[m]->requests) u.requests.push_back(r.id);
    plan.unplaced.push_back(std::move(u));
  }
  std::stable_sort(plan.moves.begin(), plan.moves.end(),
                   [](const MigrationMove& a, const MigrationMove& b) { return a.model < b.model; });
  return plan;
}

}  // namespace hearth::scheduler
