// The worker's side of a step: the models it hosts, each with its own KV cache
// and runner, and the forward-then-sample of one StepRequest. Kept free of the
// socket so tests drive it directly.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/worker_protocol.h"
#include "gpu_worker/kv_cache.h"
#include "gpu_worker/llama_runner.h"
#include "gpu_worker/loaded_model.h"
#include "gpu_worker/sampler.h"
#include "kernels/cpu/thread_pool.h"

namespace hearth::worker {

// KV cache per model when the daemon does not say.
inline constexpr uint64_t kDefaultKvCacheBytes = 256ull << 20;
inline constexpr int32_t kKvBlockSize = 16;

class StepExecutor {
 public:
  // threads: 0 for all cores. default_kv_cache_bytes: used when a
  // LoadModelRequest asks for 0.
  explicit StepExecutor(int threads = 0, uint64_t default_kv_cache_bytes = kDefaultKvCacheBytes);
  ~StepExecutor();

  // Loads (or, for a name already loaded from the same path, describes) a model.
  StatusOr<wire::ModelInfo> LoadModel(const wire::LoadModelRequest& request);
  // Frees a model's weights, KV cache and runner. A name not hosted is fine (nothing to free):
  // the daemon may unload after a worker restart that never reloaded it.
  void UnloadModel(const std::string& name);

  // Runs the batch and samples one token for each sequence that wants logits.
  // InvalidArgument for an unknown model or a malformed sequence (nothing runs).
  StatusOr<wire::StepReply> Step(const wire::StepRequest& request);

 private:
  struct HostedModel {
    std::unique_ptr<LoadedModel> model;
    std::unique_ptr<KvCache> cache;
    std::unique_ptr<LlamaRunner> runner;
    wire::ModelInfo info;
  };

  Status Validate(const HostedModel& hosted, const wire::StepRequest& request) const;

  kernels::ThreadPool pool_;
  const uint64_t default_kv_cache_bytes_;
  std::map<std::string, std::unique_ptr<HostedModel>> models_;  // by the daemon's name

  // Per-step scratch, reused.
  std::vector<float> logits_;  // [num_logit_rows, vocab_size]
  SamplerScratch scratch_;
};

}  // namespace hearth::worker
