// Turns one model's scheduled step into the StepRequest the worker reads: each sequence as the
// changes since the worker last saw it, or as its whole state when the daemon cannot vouch for
// what the worker holds (docs/engine.md, "Step messages").
//
// The builder keeps, for each sequence the worker holds, the block table and history length it
// was last sent. A sequence goes full when it is new to the worker, when its history does not
// continue from what was sent (it started again) or when its block table is not the table sent
// plus blocks appended (the prefix cache or a re-allocation changed it): correctness first, a
// full step is always right. Sequences that end are released with the next step.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/worker_protocol.h"
#include "scheduler/batch_scheduler.h"

namespace hearth::daemon {

class StepBuilder {
 public:
  // A request's sampling parameters, sent with its full steps.
  using SamplingOf = std::function<const SamplingParams&(uint64_t request_id)>;
  // A request's pooling, sent with its full steps (null: none pools).
  using PoolingOf = std::function<Pooling(uint64_t request_id)>;

  // The step for `out` (sched's latest Schedule()): the sequences it preempted and those
  // released since the last delivered step go in `released`; each scheduled sequence is a delta
  // or full. Records the step as if the worker will apply it: when it does not, the caller
  // releases the step's sequences (they end) or calls Forget() (the worker was replaced).
  wire::StepRequest Build(const std::string& model, const scheduler::SchedulerOutput& out,
                          const scheduler::BatchScheduler& sched, const SamplingOf& sampling_of,
                          const PoolingOf& pooling_of = nullptr);
  // The worker answered `step`: the ids it released are gone from the worker.
  void Delivered(const wire::StepRequest& step);
  // The sequence ended in the daemon (finished, cancelled, preempted, failed, model removed):
  // the next step tells the worker, unless the worker never held it.
  void Release(uint64_t request_id);
  // The worker holds nothing any more (it was replaced): every sequence goes full next time.
  void Forget();

  size_t num_held() const { return held_.size(); }
  const std::vector<uint64_t>& pending_releases() const { return released_; }

 private:
  struct Held {
    std::vector<int32_t> block_table;  // as the worker has it after the last step
    int32_t num_tokens = 0;            // its history length: the KV cache's tokens
  };

  // Loop thread only, like the scheduler it mirrors.
  std::unordered_map<uint64_t, Held> held_;  // by request id
  std::vector<uint64_t> released_;           // not yet delivered to the worker
};

}  // namespace hearth::daemon
