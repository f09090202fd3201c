#include "gpu_worker/generator.h"

#include <algorithm>
#include <chrono>

#include "model/detokenizer.h"
#include "sampling/stop_matcher.h"

namespace hearth::worker {
namespace {

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Generator::Generator(const LoadedModel& model, kernels::ThreadPool& pool, int32_t max_context)
    : model_(model), pool_(pool), max_context_(max_context) {}

Status Generator::Init() {
  const model::LlamaConfig& c = model_.weights->config;
  int32_t context = static_cast<int32_t>(c.context_length);
  if (max_context_ > 0) context = std::min(context, max_context_);
  KvCacheOptions o;
  o.num_layers = static_cast<int32_t>(c.num_layers);
  o.num_kv_heads = static_cast<int32_t>(c.num_kv_heads);
  o.head_dim = static_cast<int32_t>(c.head_dim);
  o.block_size = 16;
  o.num_blocks = (context + o.block_size - 1) / o.block_size;
  HEARTH_ASSIGN_OR_RETURN(cache_, KvCache::Create(o));
  block_table_.resize(o.num_blocks);
  for (int32_t i = 0; i < o.num_blocks; ++i) block_table_[i] = i;
  runner_ = std::make_unique<LlamaRunner>(*model_.weights, *cache_, pool_);
  return Status::Ok();
}

Status Generator::PromptLogits(const std::vector<int32_t>& prompt, std::vector<float>* logits) {
  const int64_t vocab = model_.weights->config.vocab_size;
  logits->assign(prompt.size() * vocab, 0.0f);
  // One token per step so each position's logits come out; the cache makes
  // this the same computation as a single prefill.
  for (size_t i = 0; i < prompt.size(); ++i) {
    Batch batch;
    batch.seqs.push_back({static_cast<int64_t>(i), std::span<const int32_t>(&prompt[i], 1),
                          std::span<const int32_t>(block_table_), true});
    HEARTH_RETURN_IF_ERROR(runner_->Forward(batch, logits->data() + i * vocab));
  }
  return Status::Ok();
}

StatusOr<GenerateResult> Generator::Generate(const std::vector<int32_t>& prompt, const GenerateOptions& options,
                                             const std::function<void(const std::string&)>& on_text) {
  HEARTH_RETURN_IF_ERROR(options.sampling.Validate());
  const int64_t context = static_cast<int64_t>(cache_->num_blocks()) * cache_->block_size();
  if (prompt.empty()) return Status::InvalidArgument("empty prompt");
  if (static_cast<int64_t>(prompt.size()) >= context) {
    return Status::InvalidArgument("prompt of " + std::to_string(prompt.size()) + " tokens does not fit the context of " +
                                   std::to_string(context));
  }
  const model::Tokenizer& tok = *model_.tokenizer;
  const int64_t vocab = model_.weights->config.vocab_size;
  for (const LogitBias& b : options.sampling.logit_bias) {
    if (b.token >= vocab) return Status::InvalidArgument("logit_bias token " + std::to_string(b.token) + " >= vocab");
  }
  for (int32_t id : options.sampling.stop_token_ids) {
    if (id >= vocab) return Status::InvalidArgument("stop_token_ids id " + std::to_string(id) + " >= vocab");
  }
  std::vector<int32_t> eos_ids;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (tok.IsEndOfGeneration(id)) eos_ids.push_back(id);
  }
  std::vector<int32_t> stop_ids = options.sampling.stop_token_ids;
  if (!options.sampling.ignore_eos) stop_ids.insert(stop_ids.end(), eos_ids.begin(), eos_ids.end());
  HEARTH_ASSIGN_OR_RETURN(StopMatcher stops, StopMatcher::Create(options.stop, stop_ids));
  model::StreamingDetokenizer detok(tok);
  std::vector<float> logits(vocab);
  SamplerScratch scratch;
  GenerateResult result;
  auto emit = [&](const std::string& s) {
    result.text += s;
    if (on_text && !s.empty()) on_text(s);
  };

  // Prefill, in chunks if asked.
  auto t0 = std::chrono::steady_clock::now();
  const int64_t chunk = options.prefill_chunk > 0 ? options.prefill_chunk : static_cast<int64_t>(prompt.size());
  for (int64_t start = 0; start < static_cast<int64_t>(prompt.size()); start += chunk) {
    const int64_t len = std::min<int64_t>(chunk, static_cast<int64_t>(prompt.size()) - start);
    Batch batch;
    batch.seqs.push_back({start, std::span<const int32_t>(prompt.data() + start, len),
                          std::span<const int32_t>(block_table_), start + len == static_cast<int64_t>(prompt.size())});
    HEARTH_RETURN_IF_ERROR(runner_->Forward(batch, logits.data()));
  }
  result.prefill_seconds = Since(t0);

  t0 = std::chrono::steady_clock::now();
  result.finish_reason = "length";
  int64_t pos = static_cast<int64_t>(prompt.size());
  for (int32_t i = 0; i < options.max_tokens; ++i) {
    const EndTokens ends{eos_ids, static_cast<int64_t>(result.tokens.size())};
    SampleResult s = Sample(logits, options.sampling, prompt, result.tokens, pos, scratch, ends);
    if (stops.IsStopToken(s.token)) {
      result.finish_reason = "stop";
      break;
    }
    result.tokens.push_back(s.token);
    HEARTH_ASSIGN_OR_RETURN(std::string piece, detok.Push(s.token));
    StopMatcherOutput out = stops.Feed(piece);
    emit(out.text);
    if (out.stopped) {
      result.finish_reason = "stop";
      break;
    }
    if (i + 1 == options.max_tokens || pos + 1 >= context) break;
    Batch batch;
    batch.seqs.push_back({pos, std::span<const int32_t>(&result.tokens.back(), 1),
                          std::span<const int32_t>(block_table_), true});
    HEARTH_RETURN_IF_ERROR(runner_->Forward(batch, logits.data()));
    ++pos;
  }
  if (!stops.stopped()) {
    StopMatcherOutput tail = stops.Feed(detok.Flush());
    emit(tail.text);
    if (!tail.stopped) emit(stops.Finish());
  }
  result.decode_seconds = Since(t0);
  return result;
}

}  // namespace hearth::worker
