// Placement of models on a worker: which models to load, swap in, stage, swap out, unload or
// drain so that the model a request (or an admin) asks for can be warm within the budgets.
//
// Design. The caller describes one worker as plain data (a WorkerView: its memory budget and
// page size, its staged host budget, every model's state, size, pin, requests, waiting loads
// and recency) and gets a Plan back: actions to run in order and an outcome. The policy is
// reactive and least recently used:
//   - a warm model takes its estimated bytes in whole pool pages, and the budget holds whole
//     pages (at least one). The pool maps scattered free pages into one contiguous range, so
//     only the number of free pages matters, never where they are;
//   - a model that fits is loaded (swapped in when the worker holds its staged copy). A model
//     larger than the whole budget is refused;
//   - otherwise the lowest-scored, then least recently used, warm model that is neither pinned
//     nor busy (requests running or queued) is evicted, again until the model fits. Scores come
//     from the forecast (scheduler/prewarm.h); with every score 0 (policy lru) this is least
//     recently used. An evicted model is swapped
//     out to staged when staging is on and its copy fits the staged budget (a model that kept
//     its copy after a swap-in always fits: swapping out only gives its pages back), room made
//     by dropping the lowest-scored, then least recently used, copies of models that are only staged and that no
//     load waits for; never the copy of a warm or moving model, and none at all when dropping
//     every such copy would not make room. Otherwise it is unloaded;
//   - when no idle victim is left, the least recently used busy, unpinned warm model is drained
//     (its new requests wait, its running ones finish) and the outcome is kWait: the caller
//     waits for a change and asks again. Without the drain a steady stream of requests to the
//     warm models would starve the cold one.
// Models loading, staging or unloading keep what they hold; the caller waits for them to settle.
//
// Pure logic: no I/O, no locks, no clock; "last used" is any tick that grows. A caller whose
// world may change while it runs an action (the registry releases its lock around every call
// into the worker) runs the plan's first such action and plans again; the rest of a plan is
// what would follow if nothing else changed, which is what a forecaster or a simulator reads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::scheduler {

enum class ModelState { kOnDisk, kStaging, kStaged, kLoading, kWarm, kUnloading };

struct ModelView {
  std::string name;
  ModelState state = ModelState::kOnDisk;
  uint64_t warm_bytes = 0;    // estimated weights + KV cache when warm; counted in whole pages
  uint64_t copy_bytes = 0;    // its staged copy: the copy's size when there is one, else its file's
  bool has_copy = false;      // the worker holds a staged copy (staged, or warm since a swap-in)
  bool pinned = false;        // never evicted
  bool busy = false;          // requests running or queued on it: never evicted, only drained
  bool load_waiting = false;  // loads wait for it: its copy is never dropped for room
  bool draining = false;      // admits no new requests, so that it can be evicted once idle
  int64_t last_used = 0;      // larger: used more recently
  double score = 0;           // what keeping it is worth (scheduler/prewarm.h); lower goes first
};

struct WorkerView {
  int32_t worker = 0;
  uint64_t pool_budget_bytes = 0;    // weights + KV caches of warm models; 0: no limit
  uint64_t page_bytes = 0;           // the pool's page size; must be > 0
  uint64_t staged_budget_bytes = 0;  // staged host copies; 0: staging off
  std::vector<ModelView> models;     // names unique
};

enum class ActionKind {
  kLoad,     // read its file into the pool: warm
  kSwapIn,   // copy its staged copy into the pool (the copy stays): warm
  kStage,    // read its file into a staged copy: staged
  kSwapOut,  // warm -> staged: give its pages back, keeping (or making) its copy
  kUnload,   // drop it from the pool and any copy: on disk
  kDrain,    // admit no new requests to it, so that it can be evicted once idle
};
const char* ActionKindName(ActionKind kind);

struct Action {
  ActionKind kind = ActionKind::kLoad;
  std::string model;
  bool operator==(const Action&) const = default;
};

enum class Outcome {
  kReady,    // run the actions: then the model is where it was asked to be
  kWait,     // run the actions (evictions, a drain), then wait for a change and ask again
  kRefused,  // nothing to run: it can never fit; `refusal` and `reason` say why
};

enum class Refusal { kNone, kLargerThanBudget, kStagingOff, kNoStagedRoom };

struct Plan {
  int32_t worker = 0;
  std::vector<Action> actions;  // in order
  Outcome outcome = Outcome::kReady;
  Refusal refusal = Refusal::kNone;
  std::string reason;  // why it waits or is refused, in words; empty when ready
};

// Makes `model` warm: evictions (with the staged copies dropped for their swap-outs) and then
// its load or swap-in; or evictions, a drain and kWait; or kLargerThanBudget. A warm model is
// ready with no actions; one loading, staging or unloading is kWait.
Plan PlanWarm(const WorkerView& view, std::string_view model);

// Gives `model` a staged copy: on disk, kStage; warm, kSwapOut (whether it is busy or pinned is
// the caller's to decide: this is an explicit request); each after the copies dropped for room.
// Staged: ready with no actions; moving: kWait. Refused with kStagingOff, or kNoStagedRoom when
// its copy cannot fit even after dropping every copy that may go.
Plan PlanStage(const WorkerView& view, std::string_view model);

// The start-up fill: loads (or swaps in) the models named in `order` that are on disk or staged,
// in that order, while the budget holds them; one that does not fit is skipped and the next
// tried. Never evicts anything. Always kReady.
Plan PlanStartupFill(const WorkerView& view, const std::vector<std::string>& order);

// The pieces of the arithmetic, for callers that report them.
uint64_t PagesFor(uint64_t bytes, uint64_t page_bytes);  // rounded up
uint64_t BudgetPages(const WorkerView& view);            // rounded down, at least 1; 0: no limit
uint64_t PagesInUse(const WorkerView& view);             // loading, warm and unloading models
uint64_t StagedBytesInUse(const WorkerView& view);       // copies held and being made

}  // namespace hearth::scheduler
