// Replica scores and the prewarm plan: WarmServe's evict-aware placement for one worker.
//
// From each model's predicted load (scheduler/forecast.h) a score says how much having it
// warm is worth: WarmServe's replicas at a batch size B measured for the model,
//   n_foundation = ceil(avg / B) - running,  n_burst = ceil(peak / B) - running - n_foundation,
//   score(i) = exp(-i / (n_foundation + n_burst)) x cold-start seconds,  i = 0, 1, ...
// with burst replicas also x peak / avg, and the cold-start seconds the model's bytes over the
// worker's measured load (or, for a staged copy, swap-in) speed. A Hearth node holds at most
// one warm copy of a model, so a model's worth is its first replica's score, counted as if
// none ran (the copy it has is what the score keeps).
//
// The prewarm plan fills the worker's pool and its staged host budget by descending score: the
// highest become warm, the next staged, the rest stay on disk; models nobody is predicted to
// use stay where they are unless room is needed. A model already in a tier (warm or staged)
// ranks as if its score were kIncumbentMargin times higher: a challenger must be worth clearly
// more to take its place, so that forecasts that differ by noise do not move models back and
// forth. A model is never evicted for a lower-scored one, never while it has running or queued
// requests, and pinned models stay. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scheduler/placement.h"

namespace hearth::scheduler {

struct ModelDemand {
  std::string name;
  double predicted_avg = 0;        // requests in flight, next window
  double predicted_peak = 0;       // the most at once, next window
  int32_t batch_size = 32;         // requests one warm copy serves at once
  int32_t running = 0;             // warm copies now, for the replica counts
  uint64_t bytes = 0;              // read by a cold load
  double load_bytes_per_s = 0;     // this worker's measured cold-load speed (> 0)
  double swap_in_bytes_per_s = 0;  // its swap-in speed (> 0), for a model it holds staged
  bool staged = false;             // the worker holds its copy
  double predicted_arrivals = 0;   // requests expected in the next window (0: not known)
};

struct Replica {
  std::string model;
  int32_t index = 0;   // 0: the first replica
  bool burst = false;  // beyond the foundation replicas
  double score = 0;
};

// Every model's replicas by WarmServe's formula, highest score first.
std::vector<Replica> ScoreReplicas(const std::vector<ModelDemand>& demand);

// A model's worth for one node: its first replica's score as if none ran, times how many
// requests for it the next window is expected to bring, each of which would pay the cold start
// if the model were not resident: the predicted arrivals, and at least the chance of one
// request, which the predicted peak gives while it is below 1 (a peak of 0.3 averaged over
// windows: a request in about 3 windows of 10). A node holds one copy of each model, and its
// pool holds only some models' first replicas, so every model with load has one replica, of
// the same exp(0) weight: without the request count, the ranking would be by size alone, and
// the most popular small model would be left out and pay a cold start at every request.
// 0 with no load.
double ModelScore(const ModelDemand& demand);

struct PrewarmPlan {
  std::vector<std::string> warm;    // the target: warm after the actions, by descending score
  std::vector<std::string> staged;  // staged after them
  std::vector<Action> actions;      // room first (swap-outs, unloads), then loads and stages
};

// The target of `view`'s worker by `scores` (model -> score; absent: 0). Models loading,
// staging or unloading are left alone and keep what they hold.
PrewarmPlan PlanPrewarm(const WorkerView& view, const std::vector<std::pair<std::string, double>>& scores);

inline constexpr double kIncumbentMargin = 1.25;

}  // namespace hearth::scheduler
