// The simulator's clock and agenda: timed events popped in time order, ties broken by the order
// they were pushed in (a sequence number), so that a run is deterministic whatever the heap does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <queue>
#include <vector>

namespace hearth::sim {

enum class EventKind : int32_t {
  kArrival,      // a request reaches the cluster
  kStepDone,     // a GPU finished its step
  kModelReady,   // a load or swap-in finished: the model is warm on a GPU
  kWindow,       // the forecaster's window closed: placement may prewarm
  kSpotNotice,   // a spot node is told it will be taken back
  kSpotRemove,   // a spot node is gone
  kSpotAdd,      // a fresh spot node joins
  kRetry,        // a GPU's waiting placements ask again
};

struct Event {
  int64_t time_ns = 0;
  uint64_t seq = 0;  // push order: the tie-break
  EventKind kind = EventKind::kArrival;
  int32_t target = 0;  // node or GPU index, by kind
  int64_t arg = 0;     // request index, model index, ... by kind
};

class EventQueue {
 public:
  // Schedules an event; CHECKs that it is not in the past.
  void Push(int64_t time_ns, EventKind kind, int32_t target, int64_t arg);
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  // The earliest event (the first pushed among equal times); advances now(). CHECKs !empty().
  Event Pop();
  int64_t now_ns() const { return now_ns_; }
  uint64_t num_pushed() const { return next_seq_; }

 private:
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.time_ns != b.time_ns ? a.time_ns > b.time_ns : a.seq > b.seq;
    }
  };
  std::priority_queue<Event, std::vector<Event>, Later> heap_;
  int64_t now_ns_ = 0;
  uint64_t next_seq_ = 0;
};

}  // namespace hearth::sim
