#include "sim/event_queue.h"

#include "common/check.h"

namespace hearth::sim {

void EventQueue::Push(int64_t time_ns, EventKind kind, int32_t target, int64_t arg) {
  CHECK(time_ns >= now_ns_) << "event in the past: " << time_ns << " < " << now_ns_;
  heap_.push(Event{time_ns, next_seq_++, kind, target, arg});
}

Event EventQueue::Pop() {
  CHECK(!heap_.empty());
  Event e = heap_.top();
  heap_.pop();
  now_ns_ = e.time_ns;
  return e;
}

}  // namespace hearth::sim
