// The simulator's clock and agenda: timed events popped in time order, so that a run is
// deterministic whatever the heap does. Ties: every other event before the steps that end at
// the same time, those in the order they were pushed in (a sequence number), the steps by GPU
// index. The steps' order depends on no push order, so a simulator that applies several steps
// of a GPU in one event (cluster_sim.cc's decode runs) still knows which of them come before an
// event at the time one of them ends.
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
  // The earliest event (ties as above); advances now(). CHECKs !empty().
  Event Pop();
  int64_t now_ns() const { return now_ns_; }
  uint64_t num_pushed() const { return next_seq_; }

 private:
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      if (a.time_ns != b.time_ns) return a.time_ns > b.time_ns;
      const bool a_step = a.kind == EventKind::kStepDone, b_step = b.kind == EventKind::kStepDone;
      if (a_step != b_step) return a_step;
      if (a_step && a.target != b.target) return a.target > b.target;
      return a.seq > b.seq;
    }
  };
  std::priority_queue<Event, std::vector<Event>, Later> heap_;
  int64_t now_ns_ = 0;
  uint64_t next_seq_ = 0;
};

}  // namespace hearth::sim
