// The simulator's model of time: how long a GPU step, a model load, a swap-in and a KV transfer
// take, in place of the forward pass and the network.
//
// A step's time comes from one of two sources:
//   - a profile: step milliseconds measured against tokens per step (the CPU worker's budget
//     profile, docs/engine.md), linearly interpolated between points and extrapolated along the
//     last segment beyond the largest (flat to the first point below the smallest);
//   - a roofline for a named shape: a step streams the weights once and the KV cache it reads,
//     over HBM bandwidth x efficiency, and computes 2 x params FLOPs per token over peak x
//     efficiency; the step takes the longer of the two plus a fixed overhead.
// Transfers are bytes over bandwidth plus a fixed latency. Pure.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"

namespace hearth::sim {

struct ProfilePoint {
  int32_t tokens = 0;
  double ms = 0;
};

struct RooflineParams {
  double hbm_bytes_per_s = 3.35e12;  // H100 SXM
  double peak_flops = 989e12;        // H100 dense bf16
  double memory_efficiency = 0.8;    // achieved fraction of HBM bandwidth
  double compute_efficiency = 0.5;   // achieved fraction of peak (MFU)
  double step_overhead_ms = 0.5;     // launch and scheduling per step
};

struct ModelShape {
  uint64_t weight_bytes = 0;        // read once per step
  double params = 0;                // FLOPs per token = 2 x params
  uint64_t kv_bytes_per_token = 0;  // read per context token per step
};

struct StepWork {
  int32_t num_tokens = 0;       // tokens scheduled this step, all sequences
  int64_t context_tokens = 0;   // KV positions the step's sequences attend over
};

class StepTimeModel {
 public:
  // InvalidArgument when the points are empty, not strictly ascending in tokens, or a time is
  // negative or not finite.
  static StatusOr<StepTimeModel> FromProfile(std::vector<ProfilePoint> points);
  static StatusOr<StepTimeModel> FromRoofline(const RooflineParams& params, const ModelShape& shape);

  double StepMs(const StepWork& work) const;
  int64_t StepNanos(const StepWork& work) const;

 private:
  StepTimeModel() = default;
  double ProfileMs(int32_t tokens) const;

  bool roofline_ = false;
  std::vector<ProfilePoint> points_;
  RooflineParams params_;
  ModelShape shape_;
};

struct TransferParams {
  double bytes_per_s = 55e9;  // PCIe 5 host to device
  double latency_ms = 0;      // fixed cost per transfer (a worker mapping the model, a hop)
};

// Nanoseconds to move `bytes` (> 0 bandwidth CHECKed).
int64_t TransferNanos(uint64_t bytes, const TransferParams& params);

}  // namespace hearth::sim
