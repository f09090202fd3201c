// Records each model's load for the forecaster (docs/models.md, "Forecast"): the placing engine
// tells it when a request arrives and when it ends; a thread closes the windows each second and
// writes them to the store, so that a restart keeps the history. Reads give a model's history
// and the forecast of its next window (scheduler/forecast.h).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "scheduler/forecast.h"
#include "scheduler/load_tracker.h"
#include "store/load_history.h"

namespace hearth::daemon {

struct LoadHistory {
  std::vector<store::LoadWindow> windows;  // oldest first; windows with no row are zeros
  scheduler::Forecast forecast;            // of the window after the last closed one
};

class LoadRecorder {
 public:
  // `store` must outlive the recorder.
  LoadRecorder(store::LoadHistoryStore* store, scheduler::ForecastOptions options);
  ~LoadRecorder();  // Stop()

  void Start();
  // Writes the windows closed so far and joins the thread. Safe to call twice.
  void Stop();

  void Arrive(const std::string& model);
  void Leave(const std::string& model);

  // The model's last `limit` windows (gaps filled with zeros, as the forecaster reads them) and
  // its forecast from the history it keeps (periods back).
  StatusOr<LoadHistory> HistoryOf(const std::string& model, int64_t limit);
  const scheduler::ForecastOptions& options() const { return options_; }

 private:
  static int64_t NowMs();
  void Run();
  Status Flush();  // closes due windows and writes them

  // Constant after construction.
  store::LoadHistoryStore* const store_;
  const scheduler::ForecastOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  scheduler::LoadTracker tracker_;  // GUARDED_BY(mu_)
  bool stopping_ = false;           // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace hearth::daemon
