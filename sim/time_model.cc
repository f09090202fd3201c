#include "sim/time_model.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"

namespace hearth::sim {

StatusOr<StepTimeModel> StepTimeModel::FromProfile(std::vector<ProfilePoint> points) {
  if (points.empty()) return Status::InvalidArgument("a step profile needs at least one point");
  for (size_t i = 0; i < points.size(); ++i) {
    if (points[i].tokens <= 0) return Status::InvalidArgument("profile tokens must be positive");
    if (!std::isfinite(points[i].ms) || points[i].ms < 0) {
      return Status::InvalidArgument("profile milliseconds must be finite and not negative");
    }
    if (i > 0 && points[i].tokens <= points[i - 1].tokens) {
      return Status::InvalidArgument("profile tokens must be strictly ascending");
    }
  }
  StepTimeModel m;
  m.points_ = std::move(points);
  return m;
}

StatusOr<StepTimeModel> StepTimeModel::FromRoofline(const RooflineParams& params, const ModelShape& shape) {
  const double values[] = {params.hbm_bytes_per_s, params.peak_flops, params.memory_efficiency,
                           params.compute_efficiency};
  for (double v : values) {
    if (!std::isfinite(v) || v <= 0) {
      return Status::InvalidArgument("roofline bandwidth, peak and efficiencies must be positive");
    }
  }
  if (!std::isfinite(params.step_overhead_ms) || params.step_overhead_ms < 0) {
    return Status::InvalidArgument("roofline step overhead must not be negative");
  }
  if (shape.weight_bytes == 0 || !(shape.params > 0)) {
    return Status::InvalidArgument("a roofline shape needs weight bytes and params");
  }
  StepTimeModel m;
  m.roofline_ = true;
  m.params_ = params;
  m.shape_ = shape;
  return m;
}

double StepTimeModel::ProfileMs(int32_t tokens) const {
  const auto& p = points_;
  if (p.size() == 1 || tokens <= p.front().tokens) {
    // One point (or below the first): proportional beyond it, flat below it.
    if (tokens <= p.front().tokens) return p.front().ms;
    return p.front().ms * tokens / p.front().tokens;
  }
  size_t hi = 1;
  while (hi + 1 < p.size() && p[hi].tokens < tokens) ++hi;
  const ProfilePoint& a = p[hi - 1];
  const ProfilePoint& b = p[hi];
  const double slope = (b.ms - a.ms) / (b.tokens - a.tokens);
  return std::max(0.0, a.ms + slope * (tokens - a.tokens));
}

double StepTimeModel::StepMs(const StepWork& work) const {
  if (work.num_tokens <= 0) return 0;
  if (!roofline_) return ProfileMs(work.num_tokens);
  const double bytes = static_cast<double>(shape_.weight_bytes) +
                       static_cast<double>(shape_.kv_bytes_per_token) * static_cast<double>(work.context_tokens);
  const double memory_s = bytes / (params_.hbm_bytes_per_s * params_.memory_efficiency);
  const double compute_s = 2.0 * shape_.params * work.num_tokens / (params_.peak_flops * params_.compute_efficiency);
  return std::max(memory_s, compute_s) * 1e3 + params_.step_overhead_ms;
}

int64_t StepTimeModel::StepNanos(const StepWork& work) const {
  return static_cast<int64_t>(std::llround(StepMs(work) * 1e6));
}

int64_t TransferNanos(uint64_t bytes, const TransferParams& params) {
  CHECK(params.bytes_per_s > 0);
  const double s = static_cast<double>(bytes) / params.bytes_per_s + params.latency_ms / 1e3;
  return static_cast<int64_t>(std::llround(s * 1e9));
}

}  // namespace hearth::sim
