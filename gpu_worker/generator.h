// Offline generation of one sequence at a time: prompt in, text out. Used by
// `hearth-worker generate`, the conformance tests and the engine benchmark.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "gpu_worker/kv_cache.h"
#include "gpu_worker/llama_runner.h"
#include "gpu_worker/loaded_model.h"
#include "gpu_worker/sampler.h"

namespace hearth::worker {

struct GenerateOptions {
  int32_t max_tokens = 64;
  SamplingParams sampling;                 // temperature 0 = greedy
  std::vector<std::string> stop;           // stop strings
  int32_t prefill_chunk = 0;               // 0: whole prompt in one step
};

struct GenerateResult {
  std::vector<int32_t> tokens;             // generated ids (without the stop token)
  std::string text;                        // their text, cut at a stop string
  std::string finish_reason;               // "stop" or "length"
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

class Generator {
 public:
  // `max_context` caps the KV cache (0: the model's context length).
  Generator(const LoadedModel& model, kernels::ThreadPool& pool, int32_t max_context = 0);
  Status Init();

  // Calls `on_text` with each piece of text as it becomes safe to show.
  StatusOr<GenerateResult> Generate(const std::vector<int32_t>& prompt, const GenerateOptions& options,
                                    const std::function<void(const std::string&)>& on_text = nullptr);

  // Logits of every prompt position (for conformance checks). logits: [n, vocab].
  Status PromptLogits(const std::vector<int32_t>& prompt, std::vector<float>* logits);

  LlamaRunner& runner() { return *runner_; }
  KvCache& cache() { return *cache_; }

 private:
  const LoadedModel& model_;
  kernels::ThreadPool& pool_;
  int32_t max_context_;
  std::unique_ptr<KvCache> cache_;
  std::unique_ptr<LlamaRunner> runner_;
  std::vector<int32_t> block_table_;  // one sequence owns every block, in order
};

}  // namespace hearth::worker
