// Each model's load as windows close: requests in flight, time-weighted over the window, their
// peak, and arrivals (the forecaster's input, scheduler/forecast.h). Windows are aligned to
// multiples of their length since the epoch, so that a window's place in the day is fixed.
// Pure: the caller passes the time, in milliseconds.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "scheduler/forecast.h"

namespace hearth::scheduler {

struct ClosedWindow {
  std::string model;
  int64_t start_ms = 0;
  WindowLoad load;
  int64_t arrivals = 0;
};

class LoadTracker {
 public:
  explicit LoadTracker(int64_t window_ms);

  // A request for `model` arrived (it is in flight from now) or left (it finished).
  void Arrive(const std::string& model, int64_t now_ms);
  void Leave(const std::string& model, int64_t now_ms);
  // Closes every window that ended by `now_ms`, for every model seen: windows with nothing in
  // flight close too (a zero is history). Oldest first.
  std::vector<ClosedWindow> Advance(int64_t now_ms);
  int64_t window_ms() const { return window_ms_; }

 private:
  struct Model {
    int64_t start_ms = 0;     // the open window's start
    int64_t last_ms = 0;      // the last change within it
    double in_flight_ms = 0;  // integral of requests in flight over [start_ms, last_ms)
    int64_t in_flight = 0;
    int64_t peak = 0;
    int64_t arrivals = 0;
  };
  Model& Get(const std::string& model, int64_t now_ms);
  // Closes `m`'s windows that ended by `now_ms` into closed_.
  void CloseUntil(const std::string& name, Model& m, int64_t now_ms);

  const int64_t window_ms_;
  std::map<std::string, Model> models_;
  std::vector<ClosedWindow> closed_;  // until Advance hands them out
};

}  // namespace hearth::scheduler
