// Where a preempted node's work goes: when a spot node is taken back, each model it served
// (with its requests) moves to the surviving node that can reuse the most of it, as in
// SpotServe's migration plan (a maximum-weight matching, Kuhn-Munkres). Pure data in, plain
// data out; the daemon resubmits the requests (with their committed tokens) where it says.
//
// Design. The unit that moves is a model with all its requests together: the weights have to be
// on the target anyway, so splitting one model's requests across nodes would pay a load per node
// and split the prefix-cache hits; and the daemon routes by model. A model can go only to a node
// that can serve it (one of the node's `models`), that has room for it (unless it is warm there
// already: its bytes are in use already) and that takes as many more running requests as it has.
// Among the plans that respect that, the planner maximizes, in this order:
//   1. the number of displaced models placed (one left out waits for a cold load somewhere);
//   2. the total reuse, in the units below: the weights already in place on the target, plus
//      the KV blocks the target's prefix cache holds for the requests' prompts;
//   3. the models placed on on-demand nodes (they will not be taken back next);
//   4. nodes earlier by name.
// Each node is expanded into as many slots as models it could hold together, every slot a column
// of one weight matrix (models are rows), and a maximum-weight assignment (Hungarian algorithm,
// O(rows^2 * columns)) solves it; the orders 1-4 are folded into one exact integer weight. Room
// is a sum, which an assignment cannot see, so a node given models that do not fit together
// keeps the ones that reuse most (then by name) and the rest are assigned again, over what room
// is left, until a round places nothing. The plan is exact whenever every node's picks fit
// together (every node takes one model, or room is ample). Deterministic: the same input in any
// order gives the same plan.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hearth::scheduler {

// Reuse weights, per byte reused, out of kReuseScale (integers, so that ties are exact):
// - warm: the weights are in device memory already; nothing is read or copied.
// - staged: the host copy skips the disk read (a few GB/s from NVMe, far less from network
//   storage) but still pays the copy to the device over PCIe (~25 GB/s) and a worker's time to
//   map it: most of a warm copy's worth, clearly less.
// - prefix: a cached KV block is in device memory already and saves its prefill compute, which
//   costs more than reading its bytes; counted at full weight, by its bytes, like warm weights
//   (SpotServe's edge weight: parameters plus KV cache reusable in place).
inline constexpr int64_t kReuseScale = 4;
inline constexpr int64_t kWarmReuse = 4;
inline constexpr int64_t kStagedReuse = 3;
inline constexpr int64_t kPrefixReuse = 4;

struct DisplacedRequest {
  std::string id;
  uint32_t prompt_tokens = 0;
  uint64_t prefix_hash = 0;       // identity of the prompt's first tokens (e.g. its first 64): the prefix-cache key
  uint32_t committed_tokens = 0;  // generated so far: resubmitted with the prompt, recomputed
};

struct DisplacedModel {
  std::string name;             // unique
  uint64_t bytes = 0;           // its weights: the room it needs on a node where it is not warm
  uint64_t kv_block_bytes = 0;  // one KV block of this model (0: unknown, a block counts 1 byte)
  std::vector<DisplacedRequest> requests;
};

enum class Residency {
  kCold,    // the node has the model's file: a load from disk
  kStaged,  // a host copy: swapped in at memory speed
  kWarm,    // loaded: nothing moves
};

struct SurvivorModel {
  std::string name;
  Residency residency = Residency::kCold;
};

struct SurvivorPrefix {
  std::string model;  // KV blocks are one model's
  uint64_t prefix_hash = 0;
  uint32_t blocks = 0;
};

struct SurvivorNode {
  std::string name;  // unique
  bool spot = false;
  uint64_t free_bytes = 0;            // room for models that are not warm here
  uint32_t free_request_slots = 0;    // how many more running requests it takes
  std::vector<SurvivorModel> models;  // what it can serve: only these go here
  std::vector<SurvivorPrefix> prefix_cache;
};

struct MigrationInput {
  std::vector<DisplacedModel> displaced;  // at most 4,096 (CHECKed)
  std::vector<SurvivorNode> survivors;    // at most 4,096 (CHECKed)
  uint32_t block_tokens = 16;             // tokens per KV block (0 counts as 1)
};

struct MigrationMove {
  std::string model;
  std::string node;
  Residency residency = Residency::kCold;  // the model's state on the node before the move
  uint64_t reused_bytes = 0;               // weights not read from disk (warm or staged)
  uint64_t reused_prefix_blocks = 0;       // summed over the requests
  int64_t reuse = 0;                       // what the objective counts, in 1/kReuseScale bytes
  std::vector<std::string> requests;       // ids, in input order
};

enum class UnplacedReason {
  kFitsNowhere,  // no survivor serves it with enough room and request slots, even empty-handed
  kRoomTaken,    // some survivor could, but the room went to models placed before it
};

struct UnplacedModel {
  std::string model;
  UnplacedReason reason = UnplacedReason::kFitsNowhere;
  std::vector<std::string> requests;  // ids, in input order
};

struct MigrationPlan {
  std::vector<MigrationMove> moves;     // by model name
  std::vector<UnplacedModel> unplaced;  // by model name
  int64_t total_reuse = 0;              // the sum of the moves' reuse
};

MigrationPlan PlanMigration(const MigrationInput& input);

// Maximum-weight assignment (Hungarian / Kuhn-Munkres algorithm, O(n^2 * m) for n <= m): of
// all the ways to give every row of the smaller side its own column (every column its own row
// when columns are fewer), the one with the largest total weight. `weight` is rows x columns,
// rectangular, entries within +-2^62. Returns for each row its column, or -1 for rows left out
// when there are more rows than columns.
std::vector<int> MaxWeightAssignment(const std::vector<std::vector<int64_t>>& weight);

}  // namespace hearth::scheduler
