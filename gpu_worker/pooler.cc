#include "gpu_worker/pooler.h"

#include <cmath>

#include "common/check.h"

namespace hearth::worker {

Pooler::Pooler(Pooling mode, int64_t width) : mode_(mode), width_(width) {
  CHECK(mode == Pooling::kMean || mode == Pooling::kLast);
  CHECK_GT(width, 0);
  if (mode_ == Pooling::kMean) sum_.assign(static_cast<size_t>(width), 0.0);
  if (mode_ == Pooling::kLast) last_.assign(static_cast<size_t>(width), 0.0f);
}

void Pooler::Add(const float* rows, int64_t num_rows) {
  if (num_rows <= 0) return;
  num_rows_ += num_rows;
  if (mode_ == Pooling::kLast) {
    const float* last = rows + (num_rows - 1) * width_;
    last_.assign(last, last + width_);
    return;
  }
  for (int64_t r = 0; r < num_rows; ++r) {
    const float* row = rows + r * width_;
    for (int64_t i = 0; i < width_; ++i) sum_[static_cast<size_t>(i)] += row[i];
  }
}

std::vector<float> Pooler::Finish() const {
  std::vector<double> pooled(static_cast<size_t>(width_), 0.0);
  if (num_rows_ == 0) return std::vector<float>(pooled.size(), 0.0f);
  for (size_t i = 0; i < pooled.size(); ++i) {
    pooled[i] = mode_ == Pooling::kMean ? sum_[i] / static_cast<double>(num_rows_) : last_[i];
  }
  return L2Normalize(pooled);
}

std::vector<float> L2Normalize(const std::vector<double>& v) {
  double sq = 0;
  for (double x : v) sq += x * x;
  std::vector<float> out(v.size(), 0.0f);
  if (sq == 0 || !std::isfinite(sq)) return out;
  const double inv = 1.0 / std::sqrt(sq);
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<float>(v[i] * inv);
  return out;
}

}  // namespace hearth::worker
