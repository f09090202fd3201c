#include "gpu_worker/step_executor.h"

#include <algorithm>
#include <chrono>

#include "common/log.h"

namespace hearth::worker {
namespace {

bool PenaltyActive(const SamplingParams& p) {
  return p.repetition_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f;
}

Status CheckIds(const std::vector<int32_t>& ids, int32_t vocab, const char* what, size_t seq) {
  for (int32_t t : ids) {
    if (t < 0 || t >= vocab) {
      return Status::InvalidArgument("sequence " + std::to_string(seq) + ": " + what + " token id " +
                                     std::to_string(t) + " outside the vocabulary");
    }
  }
  return Status::Ok();
}

}  // namespace

StepExecutor::StepExecutor(int threads, uint64_t default_kv_cache_bytes)
    : pool_(threads), default_kv_cache_bytes_(default_kv_cache_bytes) {}

StepExecutor::~StepExecutor() = default;

StatusOr<wire::ModelInfo> StepExecutor::LoadModel(const wire::LoadModelRequest& request) {
  if (request.name.empty()) return Status::InvalidArgument("load model: empty name");
  if (auto it = models_.find(request.name); it != models_.end()) {
    if (it->second->model->path == request.path) return it->second->info;
    return Status::InvalidArgument("model '" + request.name + "' is already loaded from " + it->second->model->path);
  }
  auto t0 = std::chrono::steady_clock::now();
  auto hosted = std::make_unique<HostedModel>();
  HEARTH_ASSIGN_OR_RETURN(hosted->model, LoadedModel::Load(request.path));
  const model::LlamaConfig& c = hosted->model->weights->config;
  KvCacheOptions o;
  o.num_layers = static_cast<int32_t>(c.num_layers);
  o.num_kv_heads = static_cast<int32_t>(c.num_kv_heads);
  o.head_dim = static_cast<int32_t>(c.head_dim);
  o.block_size = kKvBlockSize;
  const uint64_t bytes = request.kv_cache_bytes > 0 ? request.kv_cache_bytes : default_kv_cache_bytes_;
  const uint64_t blocks = bytes / KvCache::BytesPerBlock(o);
  if (blocks < 1) {
    return Status::InvalidArgument("model '" + request.name + "': a KV cache of " + std::to_string(bytes) +
                                   " bytes holds no block of " + std::to_string(KvCache::BytesPerBlock(o)) + " bytes");
  }
  o.num_blocks = static_cast<int32_t>(std::min<uint64_t>(blocks, 1u << 30));
  HEARTH_ASSIGN_OR_RETURN(hosted->cache, KvCache::Create(o));
  hosted->runner = std::make_unique<LlamaRunner>(*hosted->model->weights, *hosted->cache, pool_);

  wire::ModelInfo& info = hosted->info;
  info.name = request.name;
  info.vocab_size = static_cast<int32_t>(c.vocab_size);
  info.context_length = static_cast<int32_t>(c.context_length);
  info.num_kv_blocks = o.num_blocks;
  info.block_size = o.block_size;
  info.weights_bytes = hosted->model->file->file_size();
  info.kv_cache_bytes = hosted->cache->num_bytes();
  const model::Tokenizer& tok = *hosted->model->tokenizer;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (tok.IsEndOfGeneration(id)) info.eos_token_ids.push_back(id);
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  LogInfo("model loaded")
      .Kv("name", request.name)
      .Kv("path", request.path)
      .Kv("kv_blocks", o.num_blocks)
      .Kv("kv_mib", hosted->cache->num_bytes() >> 20)
      .Kv("seconds", seconds);
  wire::ModelInfo result = info;
  models_[request.name] = std::move(hosted);
  return result;
}

void StepExecutor::UnloadModel(const std::string& name) {
  if (models_.erase(name) > 0) LogInfo("model unloaded").Kv("name", name);
}

Status StepExecutor::Validate(const HostedModel& hosted, const wire::StepRequest& request) const {
  const int32_t vocab = hosted.info.vocab_size;
  for (size_t i = 0; i < request.seqs.size(); ++i) {
    const wire::StepSequence& s = request.seqs[i];
    if (!s.want_logits) continue;  // the runner checks tokens and blocks
    Status st = s.sampling.Validate();
    if (!st.ok()) return st.WithContext("sequence " + std::to_string(i));
    if (s.sample_position < 0) return Status::InvalidArgument("sequence " + std::to_string(i) + ": negative position");
    HEARTH_RETURN_IF_ERROR(CheckIds(s.prompt_tokens, vocab, "prompt", i));
    HEARTH_RETURN_IF_ERROR(CheckIds(s.generated_tokens, vocab, "generated", i));
  }
  return Status::Ok();
}

StatusOr<wire::StepReply> StepExecutor::Step(const wire::StepRequest& request) {
  auto it = models_.find(request.model);
  if (it == models_.end())
    return Status::InvalidArgument("step for model '" + request.model + "', which is not loaded");
  HostedModel& hosted = *it->second;
  HEARTH_RETURN_IF_ERROR(Validate(hosted, request));

  Batch batch;
  batch.seqs.reserve(request.seqs.size());
  for (const wire::StepSequence& s : request.seqs) {
    batch.seqs.push_back(
        {s.start_pos, std::span<const int32_t>(s.tokens), std::span<const int32_t>(s.block_table), s.want_logits});
  }
  const int64_t vocab = hosted.info.vocab_size;
  logits_.resize(static_cast<size_t>(batch.NumLogitRows() * vocab));
  HEARTH_RETURN_IF_ERROR(hosted.runner->Forward(batch, logits_.data()));

  wire::StepReply reply;
  int64_t row = 0;
  for (const wire::StepSequence& s : request.seqs) {
    if (!s.want_logits) continue;
    std::span<const float> logits(logits_.data() + row * vocab, static_cast<size_t>(vocab));
    ++row;
    const bool penalties = PenaltyActive(s.sampling);
    SampleResult r =
        Sample(logits, s.sampling, penalties ? std::span<const int32_t>(s.prompt_tokens) : std::span<const int32_t>(),
               penalties ? std::span<const int32_t>(s.generated_tokens) : std::span<const int32_t>(), s.sample_position,
               scratch_);
    wire::SampledTokenInfo out;
    out.request_id = s.request_id;
    out.token = r.token;
    out.logprob = r.logprob;
    for (const TokenLogprob& t : r.top_logprobs()) out.top.push_back({t.token, t.logprob});
    reply.sampled.push_back(std::move(out));
  }
  return reply;
}

}  // namespace hearth::worker
