// The one allocator of request ids. It starts above every id a previous run stored, and the
// journal (durable requests) and the engine (requests submitted without one) both draw from
// it, so an id is never handed out twice and always exists before its request is submitted.
#pragma once

#include <atomic>
#include <cstdint>

namespace hearth::daemon {

class RequestIds {
 public:
  explicit RequestIds(uint64_t first) : next_(first < 1 ? 1 : first) {}
  uint64_t Next() { return next_.fetch_add(1); }
  // An id chosen elsewhere (a stored request resumed by recovery): later ids go above it.
  void Observe(uint64_t id) {
    uint64_t next = next_.load();
    while (next <= id && !next_.compare_exchange_weak(next, id + 1)) {
    }
  }

 private:
  std::atomic<uint64_t> next_;
};

}  // namespace hearth::daemon
