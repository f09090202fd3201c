// A clock that moves only when a test says so.
#pragma once

#include <cstdint>

#include "scheduler/clock.h"

namespace hearth::scheduler {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ns = 0) : now_ns_(start_ns) {}
  int64_t NowNanos() const override { return now_ns_; }
  void Advance(int64_t ns) { now_ns_ += ns; }

 private:
  int64_t now_ns_;
};

}  // namespace hearth::scheduler
