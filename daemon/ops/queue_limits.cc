#include "daemon/ops/queue_limits.h"

#include <string>

#include "common/check.h"

namespace hearth::daemon {

QueueRejection CheckQueueLimits(const QueueLimits& limits, const QueueLoad& load, int64_t prompt_tokens) {
  if (limits.max_queued_requests > 0 && load.requests + 1 > limits.max_queued_requests) {
    return QueueRejection::kTooManyRequests;
  }
  if (limits.max_queued_tokens > 0 && load.requests > 0 && load.tokens + prompt_tokens > limits.max_queued_tokens) {
    return QueueRejection::kTooManyTokens;
  }
  return QueueRejection::kNone;
}

const char* RejectionName(QueueRejection rejection) {
  switch (rejection) {
    case QueueRejection::kNone:
      return "none";
    case QueueRejection::kTooManyRequests:
      return "queued_requests";
    case QueueRejection::kTooManyTokens:
      return "queued_tokens";
  }
  return "none";
}

Status QueueFullStatus(QueueRejection rejection, const QueueLimits& limits) {
  if (rejection == QueueRejection::kTooManyTokens) {
    return Status::ResourceExhausted("the queue is full (max_queued_tokens = " +
                                     std::to_string(limits.max_queued_tokens) + " prompt tokens waiting); retry later");
  }
  return Status::ResourceExhausted("the queue is full (max_queued_requests = " +
                                   std::to_string(limits.max_queued_requests) + " requests waiting); retry later");
}

QueueRejection QueueGate::TryEnter(int64_t prompt_tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  QueueRejection r = CheckQueueLimits(limits_, load_, prompt_tokens);
  if (r != QueueRejection::kNone) return r;
  ++load_.requests;
  load_.tokens += prompt_tokens;
  return r;
}

void QueueGate::Leave(int64_t prompt_tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  --load_.requests;
  load_.tokens -= prompt_tokens;
  CHECK(load_.requests >= 0 && load_.tokens >= 0) << "QueueGate::Leave without TryEnter";
}

QueueLoad QueueGate::load() const {
  std::lock_guard<std::mutex> lock(mu_);
  return load_;
}

QueueLimits QueueGate::limits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return limits_;
}

void QueueGate::SetLimits(QueueLimits limits) {
  std::lock_guard<std::mutex> lock(mu_);
  limits_ = limits;
}

}  // namespace hearth::daemon
