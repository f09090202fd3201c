#include "gpu_worker/step_executor.h"

#include <unistd.h>

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

StepExecutor::StepExecutor(int threads, uint64_t default_kv_cache_bytes, uint64_t pool_bytes)
    : pool_(threads), default_kv_cache_bytes_(default_kv_cache_bytes), pool_bytes_(pool_bytes) {}

StepExecutor::~StepExecutor() = default;

StepExecutor::StagedMap::iterator StepExecutor::FindStaged(const wire::LoadModelRequest& request) {
  auto it = staged_.find(request.name);
  if (it == staged_.end() || it->second->path() == request.path) return it;
  staged_.erase(it);  // a copy of another file under the same name
  return staged_.end();
}

StagedModel::Progress StepExecutor::ProgressFor(const std::string& name) const {
  if (!progress_) return {};
  return [this, name](uint64_t done, uint64_t total) { progress_(name, done, total); };
}

Status StepExecutor::EnsurePool() {
  if (page_pool_) return Status::Ok();
  uint64_t bytes = pool_bytes_;
  const bool sized = bytes > 0;
  if (!sized) {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    bytes = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 64ull << 30;
  }
  const uint64_t num_pages = std::min<uint64_t>(bytes / wire::kPoolPageBytes, 1u << 30);
  if (num_pages < 1) {
    return Status::InvalidArgument("a page pool of " + std::to_string(bytes) + " bytes holds no page of " +
                                   std::to_string(wire::kPoolPageBytes));
  }
  HEARTH_ASSIGN_OR_RETURN(page_pool_,
                          PagePool::Create(static_cast<int32_t>(num_pages), wire::kPoolPageBytes, /*prefault=*/sized));
  LogInfo("page pool ready").Kv("pages", num_pages).Kv("page_bytes", wire::kPoolPageBytes).Kv("prefaulted", sized);
  return Status::Ok();
}

StatusOr<std::unique_ptr<StepExecutor::HostedModel>> StepExecutor::Host(const wire::LoadModelRequest& request,
                                                                       std::unique_ptr<LoadedModel> model) {
  auto hosted = std::make_unique<HostedModel>();
  hosted->model = std::move(model);
  const model::LlamaConfig& c = hosted->model->weights->config;
  KvCacheOptions o;
  o.num_layers = static_cast<int32_t>(c.num_layers);
  o.num_kv_heads = static_cast<int32_t>(c.num_kv_heads);
  o.head_dim = static_cast<int32_t>(c.head_dim);
  o.block_size = kKvBlockSize;
  const uint64_t per_block = KvCache::BytesPerBlock(o);
  const uint64_t bytes = request.kv_cache_bytes > 0 ? request.kv_cache_bytes : default_kv_cache_bytes_;
  if (bytes / per_block < 1) {
    return Status::InvalidArgument("model '" + request.name + "': a KV cache of " + std::to_string(bytes) +
                                   " bytes holds no block of " + std::to_string(per_block) + " bytes");
  }
  const uint64_t page = page_pool_->page_bytes();
  o.num_blocks = static_cast<int32_t>(std::min<uint64_t>(bytes / per_block, 1u << 30));
  auto region = page_pool_->Map(KvCache::NumBytes(o), /*populate=*/false);
  if (!region.ok()) return region.status().WithContext("KV cache of model '" + request.name + "'");
  // Not cleared: attention reads only the positions that steps wrote.
  hosted->kv_region = std::move(region).value();
  HEARTH_ASSIGN_OR_RETURN(hosted->cache, KvCache::CreateIn(o, hosted->kv_region->data()));
  hosted->runner = std::make_unique<LlamaRunner>(*hosted->model->weights, *hosted->cache, pool_);

  wire::ModelInfo& info = hosted->info;
  info.name = request.name;
  info.vocab_size = static_cast<int32_t>(c.vocab_size);
  info.context_length = static_cast<int32_t>(c.context_length);
  info.num_kv_blocks = o.num_blocks;
  info.block_size = o.block_size;
  info.weights_bytes = uint64_t(hosted->model->region->pages().size()) * page;
  info.kv_cache_bytes = uint64_t(hosted->kv_region->pages().size()) * page;
  const model::Tokenizer& tok = *hosted->model->tokenizer;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (tok.IsEndOfGeneration(id)) info.eos_token_ids.push_back(id);
  }
  return hosted;
}

StatusOr<wire::ModelInfo> StepExecutor::LoadModel(const wire::LoadModelRequest& request) {
  if (request.name.empty()) return Status::InvalidArgument("load model: empty name");
  if (auto it = models_.find(request.name); it != models_.end()) {
    if (it->second->model->path == request.path) return it->second->info;
    return Status::InvalidArgument("model '" + request.name + "' is already loaded from " + it->second->model->path);
  }
  HEARTH_RETURN_IF_ERROR(EnsurePool());
  auto t0 = std::chrono::steady_clock::now();
  auto staged = FindStaged(request);
  const bool swap = staged != staged_.end();
  StatusOr<std::unique_ptr<LoadedModel>> model =
      swap ? LoadedModel::SwapIn(*staged->second, *page_pool_)
           : LoadedModel::ReadIn(request.path, *page_pool_, ProgressFor(request.name));
  if (!model.ok()) return model.status();
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<HostedModel> hosted, Host(request, std::move(model).value()));
  hosted->info.swapped_in = swap;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  LogInfo(swap ? "model swapped in" : "model loaded")
      .Kv("name", request.name)
      .Kv("path", request.path)
      .Kv("kv_blocks", hosted->info.num_kv_blocks)
      .Kv("kv_mib", hosted->info.kv_cache_bytes >> 20)
      .Kv("free_pages", page_pool_->num_free_pages())
      .Kv("seconds", seconds);
  wire::ModelInfo result = hosted->info;
  models_[request.name] = std::move(hosted);
  return result;
}

StatusOr<wire::StagedInfo> StepExecutor::StageModel(const wire::LoadModelRequest& request) {
  if (request.name.empty()) return Status::InvalidArgument("stage model: empty name");
  auto t0 = std::chrono::steady_clock::now();
  auto hosted = models_.find(request.name);
  if (hosted != models_.end() && hosted->second->model->path != request.path) {
    return Status::InvalidArgument("model '" + request.name + "' is loaded from " + hosted->second->model->path);
  }
  auto staged = FindStaged(request);
  if (staged == staged_.end()) {
    std::unique_ptr<StagedModel> copy;
    if (hosted != models_.end() && hosted->second->model->region) {  // warm, no copy: copy its pages out
      const LoadedModel& m = *hosted->second->model;
      HEARTH_ASSIGN_OR_RETURN(copy,
                              StagedModel::CopyOut(m.path, m.region->data(), m.region->size(), *m.weights, m.tokenizer));
    } else {
      HEARTH_ASSIGN_OR_RETURN(copy, StagedModel::Stage(request.path, ProgressFor(request.name)));
    }
    staged = staged_.emplace(request.name, std::move(copy)).first;
  }
  wire::StagedInfo info;
  info.name = request.name;
  info.bytes = staged->second->size();
  info.swapped_out = hosted != models_.end();
  if (info.swapped_out) models_.erase(hosted);
  LogInfo(info.swapped_out ? "model swapped out" : "model staged")
      .Kv("name", request.name)
      .Kv("bytes", info.bytes)
      .Kv("seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return info;
}

void StepExecutor::UnloadModel(const std::string& name) {
  const bool warm = models_.erase(name) > 0, staged = staged_.erase(name) > 0;
  if (warm || staged) LogInfo("model unloaded").Kv("name", name).Kv("was_warm", warm).Kv("was_staged", staged);
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
