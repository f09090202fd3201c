// The token budget's default, measured when a model loads: time a few worker
// Steps of growing prefill sizes and keep the largest budget whose step stays
// under a target. A step's time grows with its tokens, and the budget bounds
// how long every running decode waits for its next token (Sarathi-Serve's
// knob between inter-token latency and throughput).
#pragma once

#include <cstdint>
#include <iterator>
#include <vector>

#include "common/status.h"
#include "common/worker_protocol.h"
#include "daemon/worker/worker_process.h"

namespace hearth::daemon {

struct BudgetProfileOptions {
  double target_step_ms = 100;  // a step of `budget` tokens should take at most this
  int32_t floor = 16;           // never below this
  int32_t ceiling = 2048;       // nor above this
  // Prefill tokens per timed step, ascending. The small sizes matter on slow CPUs, where a
  // 64-token step can already take several times the target.
  // (Built from an array: GCC 12 mistakes a braced default for a dangling pointer when inlined.)
  static constexpr int32_t kDefaultSizes[] = {16, 32, 64, 128, 256, 512, 1024};
  std::vector<int32_t> sizes = std::vector<int32_t>(std::begin(kDefaultSizes), std::end(kDefaultSizes));
  int32_t repeats = 3;  // each size is timed this often and the fastest counts: noise only slows
};

struct BudgetSample {
  int32_t tokens = 0;
  double step_ms = 0;
};

// Pure. The largest sampled size whose step took at most target_step_ms;
// when even the largest stays under, a linear extrapolation from it to the
// target; clamped to [floor, ceiling] (floor wins if they cross). With no
// sample at all, the floor.
int32_t ChooseTokenBudget(const std::vector<BudgetSample>& samples, const BudgetProfileOptions& options);

// Times one warm-up Step and then `repeats` Steps of each size (a dummy prefill from
// position 0 over the first blocks of the model's KV cache, which nothing
// uses yet; the worker keeps no per-request state, so there is nothing to
// free), stopping after the first size over the target. Sizes beyond the KV
// cache or the context are skipped. Call before the engine loop starts.
StatusOr<std::vector<BudgetSample>> ProfileSteps(WorkerConnection* worker, const wire::ModelInfo& info,
                                                 const BudgetProfileOptions& options);

// ProfileSteps, then ChooseTokenBudget, logged as one structured line
// ("token budget profile": model, samples as "tokens:ms,...", target, budget).
StatusOr<int32_t> MeasureTokenBudget(WorkerConnection* worker, const wire::ModelInfo& info,
                                     const BudgetProfileOptions& options);

}  // namespace hearth::daemon
