// Where a forward pass's time goes, op by op, for benchmarks (hearth-bench-engine --profile).
// LlamaRunner adds to one when given it; serving passes none and pays nothing.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

namespace hearth::worker {

enum class StepOp : int {
  kEmbedding,
  kNorm,       // RMS norms before attention and the feed-forward
  kQkv,        // the Q, K and V projections (and their biases)
  kRope,
  kKvWrite,
  kAttention,
  kAttnOut,    // the output projection of attention
  kGateUp,     // the gate and up projections
  kSiluMul,
  kDown,
  kResidual,   // the residual adds
  kLogits,     // final norm and the vocabulary projection
  kCount,
};

inline constexpr int kNumStepOps = static_cast<int>(StepOp::kCount);

inline const char* StepOpName(StepOp op) {
  static constexpr const char* kNames[kNumStepOps] = {"embedding", "norm",     "qkv",  "rope",     "kv_write",
                                                      "attention", "attn_out", "gate_up", "silu_mul", "down",
                                                      "residual",  "logits"};
  return kNames[static_cast<int>(op)];
}

struct StepProfile {
  std::array<int64_t, kNumStepOps> ns{};  // wall time per op, summed over forwards
  int64_t num_forwards = 0;
};

// Adds the time from construction to destruction to profile->ns[op]; nothing when profile is null.
class StepOpTimer {
 public:
  StepOpTimer(StepProfile* profile, StepOp op) : profile_(profile), op_(op) {
    if (profile_) start_ = std::chrono::steady_clock::now();
  }
  ~StepOpTimer() {
    if (!profile_) return;
    profile_->ns[static_cast<int>(op_)] +=
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count();
  }
  StepOpTimer(const StepOpTimer&) = delete;
  StepOpTimer& operator=(const StepOpTimer&) = delete;

 private:
  StepProfile* const profile_;
  const StepOp op_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace hearth::worker
