// Admission control at Submit: limits on the requests waiting for their first token and on
// their prompt tokens, so that overload is an immediate 429 instead of an ever longer wait.
//
// A request counts as queued from Submit until its first token (or its finish, whichever comes
// first): that covers both waiting for the scheduler and the prefill, the two waits a client
// sees as time to first token.
#pragma once

#include <cstdint>
#include <mutex>

#include "common/status.h"

namespace hearth::daemon {

struct QueueLimits {
  int64_t max_queued_requests = 0;  // 0: no limit
  int64_t max_queued_tokens = 0;    // prompt tokens of the queued requests; 0: no limit
};

struct QueueLoad {
  int64_t requests = 0;
  int64_t tokens = 0;
};

enum class QueueRejection { kNone, kTooManyRequests, kTooManyTokens };

// Which limit queueing one more request of `prompt_tokens` would break. A prompt larger than
// the token limit on its own is still admitted into an empty queue, or it could never run.
QueueRejection CheckQueueLimits(const QueueLimits& limits, const QueueLoad& load, int64_t prompt_tokens);

// "queued_requests" or "queued_tokens": the metrics label of a rejection.
const char* RejectionName(QueueRejection rejection);

// ResourceExhausted, saying which limit is full.
Status QueueFullStatus(QueueRejection rejection, const QueueLimits& limits);

// The live count of queued requests and tokens, shared by the HTTP threads (TryEnter) and the
// engine's thread (Leave). Thread-safe.
class QueueGate {
 public:
  explicit QueueGate(QueueLimits limits) : limits_(limits) {}

  // Counts the request in and returns kNone, or leaves the count alone and says which limit is
  // full.
  QueueRejection TryEnter(int64_t prompt_tokens);
  // The request got its first token or finished. Call once per successful TryEnter.
  void Leave(int64_t prompt_tokens);

  QueueLoad load() const;
  QueueLimits limits() const;
  void SetLimits(QueueLimits limits);  // a configuration reload; the queued stay

 private:
  mutable std::mutex mu_;
  QueueLimits limits_;  // GUARDED_BY(mu_)
  QueueLoad load_;      // GUARDED_BY(mu_)
};

}  // namespace hearth::daemon
