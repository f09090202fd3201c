#include "daemon/placing_engine.h"

#include "common/log.h"

namespace hearth::daemon {
namespace {

// Ends a request's count on its model when the request finishes.
class ReleasingSink final : public RequestSink {
 public:
  ReleasingSink(std::shared_ptr<RequestSink> inner, ModelRegistry* registry, std::string model)
      : inner_(std::move(inner)), registry_(registry), model_(std::move(model)) {}
  void OnToken(const TokenEvent& event) override { inner_->OnToken(event); }
  void OnFinish(const FinishEvent& event) override {
    registry_->Release(model_);
    inner_->OnFinish(event);
  }

 private:
  const std::shared_ptr<RequestSink> inner_;
  ModelRegistry* const registry_;
  const std::string model_;
};

}  // namespace

int32_t PlacingEngine::context_length(const std::string& model) const {
  const int32_t warm = inner_->context_length(model);
  return warm > 0 ? warm : registry_->context_length(model);
}

StatusOr<uint64_t> PlacingEngine::Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) {
  if (!sink) return Status::InvalidArgument("no sink for the request");
  const std::string model = request.model;
  bool cold = false;
  HEARTH_RETURN_IF_ERROR(registry_->Acquire(model, &cold));
  if (cold) LogInfo("cold start: the request waited for its model to load").Kv("model", model);
  StatusOr<uint64_t> id = inner_->Submit(std::move(request), std::make_shared<ReleasingSink>(sink, registry_, model));
  if (!id.ok()) registry_->Release(model);  // the engine never calls a sink it refused
  return id;
}

}  // namespace hearth::daemon
