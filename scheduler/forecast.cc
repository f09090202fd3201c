#include "scheduler/forecast.h"

#include <algorithm>
#include <cmath>

#include "common/check.h"

namespace hearth::scheduler {
namespace {

int64_t WindowsPerPeriod(const ForecastOptions& o) {
  CHECK(o.window_seconds > 0 && o.period_seconds > 0);
  return std::max<int64_t>(1, o.period_seconds / o.window_seconds);
}

// The baseline of window `t` from history[0, t): earlier periods' same window, else recent.
WindowLoad Baseline(const std::vector<WindowLoad>& h, int64_t t, const ForecastOptions& o, bool* periodic) {
  const int64_t period = WindowsPerPeriod(o);
  WindowLoad sum;
  int64_t n = 0;
  for (int64_t k = t - period; k >= 0; k -= period) {
    sum.avg += h[k].avg;
    sum.peak += h[k].peak;
    ++n;
  }
  *periodic = n > 0;
  if (n == 0) {
    for (int64_t k = std::max<int64_t>(0, t - o.recent_windows); k < t; ++k) {
      sum.avg += h[k].avg;
      sum.peak += h[k].peak;
      ++n;
    }
  }
  if (n == 0) return {};
  return {sum.avg / static_cast<double>(n), sum.peak / static_cast<double>(n)};
}

}  // namespace

Forecast PredictNext(const std::vector<WindowLoad>& history, const ForecastOptions& options) {
  Forecast f;
  const int64_t t = static_cast<int64_t>(history.size());
  f.baseline = Baseline(history, t, options, &f.periodic);
  // Residuals of the last windows against their own baselines, newest first.
  double weight_sum = 0, avg = 0, peak = 0, weight = 1;
  for (int64_t j = t - 1; j >= 0 && j >= t - options.residual_windows; --j, weight /= 2) {
    bool periodic = false;
    const WindowLoad b = Baseline(history, j, options, &periodic);
    if (j == 0) break;  // the first window has no baseline of its own to miss
    avg += weight * (history[j].avg - b.avg);
    peak += weight * (history[j].peak - b.peak);
    weight_sum += weight;
  }
  if (weight_sum > 0) f.correction = {avg / weight_sum, peak / weight_sum};
  f.predicted = {std::max(0.0, f.baseline.avg + f.correction.avg), std::max(0.0, f.baseline.peak + f.correction.peak)};
  return f;
}

ForecastError Evaluate(const std::vector<WindowLoad>& series, const ForecastOptions& options) {
  ForecastError e;
  std::vector<WindowLoad> seen;
  for (size_t t = 0; t < series.size(); ++t) {
    if (t >= 1) {
      const Forecast f = PredictNext(seen, options);
      e.avg += std::abs(f.predicted.avg - series[t].avg);
      e.peak += std::abs(f.predicted.peak - series[t].peak);
      e.naive_avg += std::abs(series[t - 1].avg - series[t].avg);
      e.naive_peak += std::abs(series[t - 1].peak - series[t].peak);
      ++e.windows;
    }
    seen.push_back(series[t]);
  }
  if (e.windows > 0) {
    const double n = static_cast<double>(e.windows);
    e.avg /= n;
    e.peak /= n;
    e.naive_avg /= n;
    e.naive_peak /= n;
  }
  return e;
}

}  // namespace hearth::scheduler
