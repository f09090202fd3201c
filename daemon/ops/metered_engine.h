// The Engine the HTTP routes see: in front of the engine loop, it applies the queue limits at
// Submit (an immediate ResourceExhausted, which the routes answer with 429 and Retry-After) and
// records every request's outcome and latencies in ServerMetrics.
#pragma once

#include <memory>
#include <string>

#include "daemon/engine/engine.h"
#include "daemon/ops/queue_limits.h"
#include "daemon/ops/server_metrics.h"

namespace hearth::daemon {

class MeteredEngine final : public Engine {
 public:
  // All three must outlive this engine and every request submitted through it.
  MeteredEngine(Engine* inner, QueueGate* gate, ServerMetrics* metrics)
      : inner_(inner), gate_(gate), metrics_(metrics) {}

  const model::Tokenizer* tokenizer(const std::string& model) const override { return inner_->tokenizer(model); }
  int32_t context_length(const std::string& model) const override { return inner_->context_length(model); }
  int32_t embedding_size(const std::string& model) const override { return inner_->embedding_size(model); }
  StatusOr<uint64_t> Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) override;
  void Cancel(uint64_t id) override { inner_->Cancel(id); }
  EngineStats Stats() const override { return inner_->Stats(); }
  // The queue limits as they stand now; a refusal is counted as Submit counts it.
  Status CheckAdmission(const std::string& model, int64_t prompt_tokens) override;

 private:
  // Constant after construction.
  Engine* const inner_;
  QueueGate* const gate_;
  ServerMetrics* const metrics_;
};

}  // namespace hearth::daemon
