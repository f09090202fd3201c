// The scheduler's only notion of time: an injected monotonic clock, so tests drive it by hand.
#pragma once

#include <chrono>
#include <cstdint>

namespace hearth::scheduler {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowNanos() const = 0;  // monotonic; the origin is arbitrary
};

// The daemon's clock. The scheduler never makes one itself.
class SteadyClock final : public Clock {
 public:
  int64_t NowNanos() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace hearth::scheduler
