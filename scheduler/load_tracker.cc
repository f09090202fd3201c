#include "scheduler/load_tracker.h"

#include <algorithm>

#include "common/check.h"

namespace hearth::scheduler {

LoadTracker::LoadTracker(int64_t window_ms) : window_ms_(window_ms) { CHECK(window_ms > 0); }

LoadTracker::Model& LoadTracker::Get(const std::string& model, int64_t now_ms) {
  auto [it, added] = models_.try_emplace(model);
  if (added) {
    it->second.start_ms = now_ms / window_ms_ * window_ms_;
    it->second.last_ms = now_ms;
  }
  return it->second;
}

void LoadTracker::CloseUntil(const std::string& name, Model& m, int64_t now_ms) {
  while (now_ms >= m.start_ms + window_ms_) {
    const int64_t end = m.start_ms + window_ms_;
    m.in_flight_ms += static_cast<double>(m.in_flight) * static_cast<double>(end - m.last_ms);
    closed_.push_back({name,
                       m.start_ms,
                       {m.in_flight_ms / static_cast<double>(window_ms_), static_cast<double>(m.peak)},
                       m.arrivals});
    m.start_ms = end;
    m.last_ms = end;
    m.in_flight_ms = 0;
    m.peak = m.in_flight;  // still in flight at the new window's start
    m.arrivals = 0;
  }
}

void LoadTracker::Arrive(const std::string& model, int64_t now_ms) {
  Model& m = Get(model, now_ms);
  CloseUntil(model, m, now_ms);
  m.in_flight_ms += static_cast<double>(m.in_flight) * static_cast<double>(now_ms - m.last_ms);
  m.last_ms = now_ms;
  ++m.in_flight;
  ++m.arrivals;
  m.peak = std::max(m.peak, m.in_flight);
}

void LoadTracker::Leave(const std::string& model, int64_t now_ms) {
  Model& m = Get(model, now_ms);
  CloseUntil(model, m, now_ms);
  m.in_flight_ms += static_cast<double>(m.in_flight) * static_cast<double>(now_ms - m.last_ms);
  m.last_ms = now_ms;
  m.in_flight = std::max<int64_t>(0, m.in_flight - 1);
}

std::vector<ClosedWindow> LoadTracker::Advance(int64_t now_ms) {
  for (auto& [name, m] : models_) CloseUntil(name, m, now_ms);
  std::vector<ClosedWindow> out = std::move(closed_);
  closed_.clear();
  std::stable_sort(out.begin(), out.end(),
                   [](const ClosedWindow& a, const ClosedWindow& b) { return a.start_ms < b.start_ms; });
  return out;
}

}  // namespace hearth::scheduler
