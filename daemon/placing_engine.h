// The Engine the routes see (docs/models.md): it makes a request's model warm in the
// ModelRegistry before handing the request to the engine loop, and counts the request on its
// model until it finishes, so that a model with requests is never evicted.
#pragma once

#include <memory>
#include <string>

#include "daemon/engine.h"
#include "daemon/engine_loop.h"
#include "daemon/model_registry.h"

namespace hearth::daemon {

// The Engine the routes see (under MeteredEngine): Submit makes the model warm first and
// counts the request on it until it finishes.
class PlacingEngine final : public Engine {
 public:
  // Both must outlive this engine and every request submitted through it.
  PlacingEngine(EngineLoop* inner, ModelRegistry* registry) : inner_(inner), registry_(registry) {}

  const model::Tokenizer* tokenizer(const std::string& model) const override { return registry_->tokenizer(model); }
  int32_t context_length(const std::string& model) const override;
  StatusOr<uint64_t> Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) override;
  void Cancel(uint64_t id) override { inner_->Cancel(id); }
  EngineStats Stats() const override { return inner_->Stats(); }

 private:
  EngineLoop* const inner_;
  ModelRegistry* const registry_;
};

}  // namespace hearth::daemon
