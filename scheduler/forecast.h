// Load forecasting, as WarmServe predicts each model's load (docs/models.md, "Forecast").
//
// A model's history is a series of windows (default 300 s), each with the time-weighted
// average and the peak number of its requests in flight. The next window is predicted as a
// baseline plus a correction, for the average and the peak alike:
//   - the baseline is the mean of the same window in earlier periods (default one day) where
//     the history reaches back that far; otherwise the mean of the recent windows;
//   - the correction is the weighted mean of the last 10 windows' residuals (what the window
//     was, less what its own baseline said), with weights 1/2^i, i = 0 the newest: a level
//     that changes is caught up with within a few windows, a lone burst fades.
// The prediction is never negative. Pure: no clock, no I/O; the caller closes windows.
#pragma once

#include <cstdint>
#include <vector>

namespace hearth::scheduler {

struct WindowLoad {
  double avg = 0;   // time-weighted mean of requests in flight over the window
  double peak = 0;  // the most in flight at once
};

struct ForecastOptions {
  int64_t window_seconds = 300;
  int64_t period_seconds = 86400;  // the same window this long ago is the baseline
  int residual_windows = 10;       // the correction's reach
  int recent_windows = 12;         // the baseline when no earlier period is in the history
};

struct Forecast {
  WindowLoad predicted;  // baseline + correction, at least 0
  WindowLoad baseline;
  WindowLoad correction;
  bool periodic = false;  // the baseline came from earlier periods
};

// Predicts the window after `history` (oldest first; window k is history[k]; the last one is
// the newest closed window). An empty history predicts 0.
Forecast PredictNext(const std::vector<WindowLoad>& history, const ForecastOptions& options = {});

// The forecaster against the naive "next = last window" predictor over `series`: the mean
// absolute error of each, for the average and the peak, over every window from the second on.
struct ForecastError {
  int64_t windows = 0;
  double avg = 0, peak = 0;              // this forecaster
  double naive_avg = 0, naive_peak = 0;  // next = last
};
ForecastError Evaluate(const std::vector<WindowLoad>& series, const ForecastOptions& options = {});

}  // namespace hearth::scheduler
