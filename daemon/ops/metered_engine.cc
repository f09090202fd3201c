#include "daemon/ops/metered_engine.h"

#include <atomic>

namespace hearth::daemon {
namespace {

// Wraps the route's sink: leaves the queue at the first token (or the finish) and records the
// finish. Called on the engine's thread only, like the sink it wraps.
class MeteredSink final : public RequestSink {
 public:
  MeteredSink(std::shared_ptr<RequestSink> inner, QueueGate* gate, ServerMetrics* metrics, std::string model,
              int64_t prompt_tokens)
      : inner_(std::move(inner)),
        gate_(gate),
        metrics_(metrics),
        model_(std::move(model)),
        prompt_tokens_(prompt_tokens) {}

  void OnToken(const TokenEvent& event) override {
    LeaveQueue();
    inner_->OnToken(event);
  }

  void OnFinish(const FinishEvent& event) override {
    LeaveQueue();
    metrics_->RequestFinished(model_, event);
    inner_->OnFinish(event);
  }

  void OnModelLoading(bool loading) override { inner_->OnModelLoading(loading); }
  void OnServedBy(const std::string& node) override { inner_->OnServedBy(node); }
  void OnRemoteCost(int32_t tokens, double dollars) override { inner_->OnRemoteCost(tokens, dollars); }

  // Once per request: at its first event, or when the engine refused it.
  void LeaveQueue() {
    if (!left_.exchange(true)) gate_->Leave(prompt_tokens_);
  }

 private:
  // Constant after construction.
  const std::shared_ptr<RequestSink> inner_;
  QueueGate* const gate_;
  ServerMetrics* const metrics_;
  const std::string model_;
  const int64_t prompt_tokens_;

  std::atomic<bool> left_{false};
};

}  // namespace

Status MeteredEngine::CheckAdmission(const std::string& model, int64_t prompt_tokens) {
  if (!inner_->tokenizer(model)) return Status::Ok();  // Submit gives the engine's own error
  const QueueRejection rejection = CheckQueueLimits(gate_->limits(), gate_->load(), prompt_tokens);
  if (rejection == QueueRejection::kNone) return Status::Ok();
  metrics_->RequestRejected(model, RejectionName(rejection));
  return QueueFullStatus(rejection, gate_->limits());
}

StatusOr<uint64_t> MeteredEngine::Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) {
  // Unknown models go straight to the engine's own error, and never become a metrics label.
  if (!inner_->tokenizer(request.model)) return inner_->Submit(std::move(request), std::move(sink));
  const std::string model = request.model;
  const int64_t prompt_tokens = static_cast<int64_t>(request.prompt.size());
  const QueueRejection rejection = gate_->TryEnter(prompt_tokens);
  if (rejection != QueueRejection::kNone) {
    metrics_->RequestRejected(model, RejectionName(rejection));
    return QueueFullStatus(rejection, gate_->limits());
  }
  auto metered = std::make_shared<MeteredSink>(std::move(sink), gate_, metrics_, model, prompt_tokens);
  StatusOr<uint64_t> id = inner_->Submit(std::move(request), metered);
  if (!id.ok()) {
    metered->LeaveQueue();  // the engine never calls a sink it refused
    if (id.status().code() == Status::Code::kResourceExhausted) metrics_->RequestRejected(model, "engine_queue");
    if (id.status().code() == Status::Code::kUnavailable) metrics_->RequestRejected(model, "unavailable");
    return id.status();
  }
  metrics_->RequestSubmitted(model, prompt_tokens);
  return id;
}

}  // namespace hearth::daemon
