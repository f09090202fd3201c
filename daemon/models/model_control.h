// What the admin API asks of the model registry (docs/models.md): list, add, remove, load,
// unload, pin. ModelRegistry implements it; the admin routes' tests fake it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace hearth::daemon {

// A model as the admin API shows it.
struct ModelStatus {
  std::string name;
  std::string path;
  int32_t context_length = 0;  // while warm: min(trained context, KV cache); else as last known
  // "registered", "staging", "staged", "loading", "warm" or "unloading" (docs/models.md)
  std::string state;
  bool pinned = false;         // never evicted to make room
  std::string source;          // "config" ([models]) or "admin" (added at run time, stored)
  int64_t last_used = 0;       // unix seconds of the last request's start or end; 0: never
  int64_t loads = 0;           // successful loads since hearthd started
  double last_load_seconds = 0;
  uint64_t bytes = 0;           // weights + KV cache on the worker (an estimate until first loaded)
  int64_t active_requests = 0;  // queued or running
  int64_t evictions = 0;
  bool staged = false;        // the worker holds a host copy (state staged, or warm and kept)
  uint64_t staged_bytes = 0;  // that copy
  int64_t swap_ins = 0;       // loads from the staged copy
  int64_t swap_outs = 0;      // warm to staged
  double last_swap_in_seconds = 0;
  // While loading or staging from the file: bytes read of the total (0 of 0 otherwise).
  uint64_t progress_done = 0;
  uint64_t progress_total = 0;
  std::string last_error;  // of the last failed load; empty after a good one
  int32_t worker = -1;     // the worker that holds it (warm, staged, moving); -1: none
  // Placement by forecast (docs/models.md, "Prewarm"): the load predicted for the next window
  // and the last closed window's (requests in flight: time-weighted average and peak), the
  // model's score, where the last prewarm plan put it ("warm", "staged" or "disk"; empty under
  // policy lru or before the first plan), the batch size its replicas count with, and its
  // prewarm actions, hits (a request found it warm because a prewarm put it there) and waste
  // (a prewarmed model left the pool before any request used it).
  double predicted_avg = 0, predicted_peak = 0;
  double predicted_arrivals = 0;  // requests expected in the next window
  double observed_avg = 0, observed_peak = 0;
  double score = 0;
  std::string planned_state;
  int32_t batch_size = 0;
  int64_t prewarm_actions = 0, prewarm_hits = 0, prewarm_waste = 0;
};

// Errors: NotFound (no such model: 404), InvalidArgument (a path the loader cannot read: 400),
// FailedPrecondition (Add: the name is taken by another path; Remove, Unload: requests still
// use it: 409), Unavailable (no room in the memory budget in time: 503). Pins only keep a
// model from being evicted: an explicit unload of a pinned model is done.
class ModelControl {
 public:
  virtual ~ModelControl() = default;
  virtual std::vector<ModelStatus> List() = 0;
  // Registers the model (stored, so it survives a restart) and loads it.
  virtual StatusOr<ModelStatus> Add(const std::string& name, const std::string& path, bool pinned) = 0;
  // Unloads and forgets it; `force` fails its queued and running requests instead of refusing.
  virtual Status Remove(const std::string& name, bool force) = 0;
  virtual StatusOr<ModelStatus> Load(const std::string& name) = 0;
  virtual StatusOr<ModelStatus> Unload(const std::string& name, bool force) = 0;
  // Registered: stage it (a host copy on the worker). Warm: swap it out to staged (`force` ends
  // its requests instead of refusing). InvalidArgument when staging is off; ResourceExhausted
  // when the staged budget has no room (every copy in it belongs to a warm model).
  virtual StatusOr<ModelStatus> Stage(const std::string& name, bool force) = 0;
  virtual StatusOr<ModelStatus> SetPinned(const std::string& name, bool pinned) = 0;
};

}  // namespace hearth::daemon
