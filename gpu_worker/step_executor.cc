#include "gpu_worker/step_executor.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <unordered_set>

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

// The model's vocabulary as the grammar engine sees it: each token's bytes, control tokens
// none (a grammar never produces them), and the end-of-generation tokens.
std::shared_ptr<const grammar::Vocabulary> GrammarVocabulary(const model::Tokenizer& tok,
                                                              const std::vector<int32_t>& eos) {
  auto vocab = std::make_shared<grammar::Vocabulary>();
  vocab->token_bytes.resize(static_cast<size_t>(tok.vocab_size()));
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (!tok.IsSpecial(id)) vocab->token_bytes[id] = std::string(tok.TokenBytes(id));
  }
  vocab->end_tokens = eos;
  return vocab;
}

}  // namespace

Status StepExecutor::PrepareGrammars(HostedModel& hosted, const wire::StepRequest& request) {
  for (const wire::StepSequence& s : request.seqs) {
    if (!s.full || s.sampling.grammar.empty()) continue;
    if (!hosted.grammars) {
      hosted.grammars = std::make_unique<grammar::GrammarCache>(
          GrammarVocabulary(*hosted.model->tokenizer, hosted.info.eos_token_ids));
    }
    HEARTH_RETURN_IF_ERROR(hosted.grammars->Get(s.sampling.grammar).status().WithContext(
        "sequence " + std::to_string(s.request_id)));
  }
  return Status::Ok();
}

std::span<const uint64_t> StepExecutor::GrammarMask(HostedModel& hosted, SequenceState& state) {
  if (!state.grammar) {
    // Compiled by PrepareGrammars when the full state arrived; evicted since, it recompiles.
    auto compiled = hosted.grammars->Get(state.sampling.grammar);
    CHECK(compiled.ok()) << compiled.status().ToString();
    state.grammar = std::make_unique<grammar::GrammarMatcher>(*compiled);
    state.grammar_consumed = 0;
  }
  const size_t num_prompt = std::min(state.history.size(), static_cast<size_t>(state.num_prompt_tokens));
  for (; num_prompt + state.grammar_consumed < state.history.size(); ++state.grammar_consumed) {
    state.grammar->Accept(state.history[num_prompt + state.grammar_consumed]);
  }
  return state.grammar->Mask();
}

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
  info.hidden_size = static_cast<int32_t>(c.hidden);
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

StatusOr<wire::LoadStatus> StepExecutor::BeginLoad(const wire::LoadModelRequest& request) {
  if (request.name.empty()) return Status::InvalidArgument("load model: empty name");
  if (loading_.contains(request.name)) {
    return Status::FailedPrecondition("model '" + request.name + "' is already loading");
  }
  if (auto it = models_.find(request.name); it != models_.end()) {
    if (it->second->model->path != request.path) {
      return Status::InvalidArgument("model '" + request.name + "' is already loaded from " + it->second->model->path);
    }
    const uint64_t bytes = it->second->info.weights_bytes;
    return wire::LoadStatus{request.name, bytes, bytes, true};  // FinishLoad describes it
  }
  HEARTH_RETURN_IF_ERROR(EnsurePool());
  const auto t0 = std::chrono::steady_clock::now();
  if (auto staged = FindStaged(request); staged != staged_.end()) {  // a memory copy: done here
    HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<LoadedModel> model, LoadedModel::SwapIn(*staged->second, *page_pool_));
    HEARTH_ASSIGN_OR_RETURN(wire::ModelInfo info, Register(request, std::move(model), /*swapped_in=*/true, t0));
    return wire::LoadStatus{request.name, info.weights_bytes, info.weights_bytes, true};
  }
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<ModelFileReader> reader, ModelFileReader::Open(request.path));
  auto load = std::make_unique<PendingLoad>();
  load->request = request;
  load->started = t0;
  auto region = page_pool_->Map(reader->size());
  if (!region.ok()) return region.status().WithContext("loading " + request.path);
  load->region = std::move(region).value();
  ReadProgress observer;
  if (read_observer_) {
    observer = [hook = read_observer_, name = request.name](uint64_t done, uint64_t total) { hook(name, done, total); };
  }
  load->read = std::make_unique<BackgroundRead>(std::move(reader), load->region->data(), std::move(observer));
  const wire::LoadStatus status{request.name, load->read->done(), load->read->total(), false};
  LogInfo("model load started")
      .Kv("name", request.name)
      .Kv("path", request.path)
      .Kv("bytes", status.total)
      .Kv("free_pages", page_pool_->num_free_pages());
  loading_[request.name] = std::move(load);
  return status;
}

StatusOr<wire::LoadStatus> StepExecutor::PollLoad(const std::string& name) {
  auto it = loading_.find(name);
  if (it == loading_.end()) {
    if (auto hosted = models_.find(name); hosted != models_.end()) {  // loaded at once (BeginLoad)
      const uint64_t bytes = hosted->second->info.weights_bytes;
      return wire::LoadStatus{name, bytes, bytes, true};
    }
    return Status::FailedPrecondition("no load of model '" + name + "' is in progress");
  }
  const BackgroundRead& read = *it->second->read;
  if (!read.finished()) return wire::LoadStatus{name, read.done(), read.total(), false};
  if (!read.status().ok()) {
    Status failed = read.status().WithContext("loading model '" + name + "'");
    loading_.erase(it);  // its pages go back
    LogError("model load failed").Kv("name", name).Kv("error", failed.ToString());
    return failed;
  }
  return wire::LoadStatus{name, read.total(), read.total(), true};
}

StatusOr<wire::ModelInfo> StepExecutor::FinishLoad(const std::string& name) {
  auto it = loading_.find(name);
  if (it == loading_.end()) {
    if (auto hosted = models_.find(name); hosted != models_.end()) return hosted->second->info;
    return Status::FailedPrecondition("no load of model '" + name + "' is in progress");
  }
  if (!it->second->read->finished()) {
    return Status::FailedPrecondition("model '" + name + "' is still being read; poll until it is finished");
  }
  std::unique_ptr<PendingLoad> load = std::move(it->second);
  loading_.erase(it);
  HEARTH_RETURN_IF_ERROR(load->read->status().WithContext("loading model '" + name + "'"));
  load->read.reset();  // the loader thread is done; the pages are the model's now
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<LoadedModel> model,
                          LoadedModel::InPages(load->request.path, std::move(load->region)));
  return Register(load->request, std::move(model), /*swapped_in=*/false, load->started);
}

StatusOr<wire::ModelInfo> StepExecutor::LoadModel(const wire::LoadModelRequest& request) {
  HEARTH_ASSIGN_OR_RETURN(wire::LoadStatus status, BeginLoad(request));
  while (!status.finished) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    HEARTH_ASSIGN_OR_RETURN(status, PollLoad(request.name));
  }
  return FinishLoad(request.name);
}

StatusOr<wire::ModelInfo> StepExecutor::Register(const wire::LoadModelRequest& request,
                                                 std::unique_ptr<LoadedModel> model, bool swapped_in,
                                                 std::chrono::steady_clock::time_point started) {
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<HostedModel> hosted, Host(request, std::move(model)));
  hosted->info.swapped_in = swapped_in;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  LogInfo(swapped_in ? "model swapped in" : "model loaded")
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
  if (loading_.contains(request.name)) return Status::FailedPrecondition("model '" + request.name + "' is loading");
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
  const bool loading = loading_.erase(name) > 0;  // stops its read and waits for the loader thread
  const bool warm = models_.erase(name) > 0, staged = staged_.erase(name) > 0;
  if (warm || staged || loading) {
    LogInfo("model unloaded").Kv("name", name).Kv("was_warm", warm).Kv("was_staged", staged).Kv("was_loading", loading);
  }
}

Status StepExecutor::Validate(const HostedModel& hosted, const wire::StepRequest& request) const {
  const int32_t vocab = hosted.info.vocab_size;
  std::unordered_set<uint64_t> released(request.released.begin(), request.released.end());
  std::unordered_set<uint64_t> seen;
  for (size_t i = 0; i < request.seqs.size(); ++i) {
    const wire::StepSequence& s = request.seqs[i];
    const std::string who = "sequence " + std::to_string(i) + " (request " + std::to_string(s.request_id) + ")";
    if (!seen.insert(s.request_id).second) return Status::InvalidArgument(who + ": twice in one step");
    if (s.start_pos < 0) return Status::InvalidArgument(who + ": negative start");
    if (s.full) {
      Status st = s.sampling.Validate();
      if (!st.ok()) return st.WithContext(who);
      if (s.history.size() != static_cast<size_t>(s.start_pos)) {
        return Status::InvalidArgument(who + ": a full state with " + std::to_string(s.history.size()) +
                                       " history tokens for start " + std::to_string(s.start_pos));
      }
      if (s.num_prompt_tokens < 0) return Status::InvalidArgument(who + ": negative prompt length");
      if (s.pooling != Pooling::kNone && s.start_pos != 0) {
        return Status::InvalidArgument(who + ": a pooled sequence's full state must start at 0");
      }
      HEARTH_RETURN_IF_ERROR(CheckIds(s.history, vocab, "history", i));
      HEARTH_RETURN_IF_ERROR(CheckIds(s.sampling.stop_token_ids, vocab, "stop_token_ids", i));
      for (const LogitBias& b : s.sampling.logit_bias) {
        if (b.token >= vocab) return Status::InvalidArgument(who + ": logit_bias token outside the vocabulary");
      }
    } else {
      auto it = hosted.sequences.find(s.request_id);
      if (it == hosted.sequences.end() || released.contains(s.request_id)) {
        return Status::InvalidArgument(who + ": a delta for a sequence the worker does not hold; send it full");
      }
      const SequenceState& held = it->second;
      if (static_cast<size_t>(s.start_pos) != held.history.size()) {
        return Status::InvalidArgument(who + ": a delta from token " + std::to_string(s.start_pos) +
                                       ", but the worker holds " + std::to_string(held.history.size()));
      }
      if (s.num_blocks_after < 0 ||
          held.block_table.size() + s.block_table.size() != static_cast<size_t>(s.num_blocks_after)) {
        return Status::InvalidArgument(who + ": " + std::to_string(held.block_table.size()) + " blocks held plus " +
                                       std::to_string(s.block_table.size()) + " appended is not the " +
                                       std::to_string(s.num_blocks_after) + " expected");
      }
    }
    if (s.want_logits && s.sample_position < 0) return Status::InvalidArgument(who + ": negative position");
    // The runner checks the tokens and blocks.
  }
  return Status::Ok();
}

void StepExecutor::Apply(const wire::StepSequence& s, SequenceState& state) {
  if (s.full) {
    state.block_table = s.block_table;
    state.history = s.history;
    state.num_prompt_tokens = s.num_prompt_tokens;
    state.sampling = s.sampling;
    state.grammar.reset();
    state.grammar_consumed = 0;
  } else {
    state.block_table.insert(state.block_table.end(), s.block_table.begin(), s.block_table.end());
  }
  state.history.insert(state.history.end(), s.tokens.begin(), s.tokens.end());
}

StatusOr<wire::KvBlocks> StepExecutor::ReadKvBlocks(const wire::KvBlocksRead& request) const {
  auto it = models_.find(request.model);
  if (it == models_.end()) return Status::NotFound("model '" + request.model + "' is not loaded");
  const KvCache& cache = *it->second->cache;
  // The reply's frame carries the bytes and a few more.
  if (request.blocks.size() * cache.bytes_per_block() + 64 > wire::kMaxFrameBytes) {
    return Status::InvalidArgument("KV blocks: " + std::to_string(request.blocks.size()) +
                                   " blocks do not fit one frame; ask for fewer");
  }
  wire::KvBlocks out;
  out.bytes_per_block = cache.bytes_per_block();
  HEARTH_RETURN_IF_ERROR(cache.ReadBlocks(request.blocks, &out.data));
  return out;
}

Status StepExecutor::WriteKvBlocks(const wire::KvBlocksWrite& request) {
  auto it = models_.find(request.model);
  if (it == models_.end()) return Status::NotFound("model '" + request.model + "' is not loaded");
  KvCache& cache = *it->second->cache;
  if (request.bytes_per_block != cache.bytes_per_block()) {
    return Status::InvalidArgument("KV blocks of " + std::to_string(request.bytes_per_block) +
                                   " bytes do not fit this cache's layout (" + std::to_string(cache.bytes_per_block()) +
                                   " bytes per block)");
  }
  return cache.WriteBlocks(request.blocks, request.data);
}

size_t StepExecutor::num_sequences(const std::string& model) const {
  auto it = models_.find(model);
  return it == models_.end() ? 0 : it->second->sequences.size();
}

StatusOr<wire::StepReply> StepExecutor::Step(const wire::StepRequest& request) {
  auto it = models_.find(request.model);
  if (it == models_.end())
    return Status::InvalidArgument("step for model '" + request.model + "', which is not loaded");
  HostedModel& hosted = *it->second;
  HEARTH_RETURN_IF_ERROR(Validate(hosted, request));
  HEARTH_RETURN_IF_ERROR(PrepareGrammars(hosted, request));
  for (uint64_t id : request.released) hosted.sequences.erase(id);
  std::vector<SequenceState*> states;
  states.reserve(request.seqs.size());
  for (const wire::StepSequence& s : request.seqs) {
    SequenceState& state = hosted.sequences[s.request_id];
    Apply(s, state);
    if (s.full) {
      state.pooler = s.pooling == Pooling::kNone ? nullptr : std::make_unique<Pooler>(s.pooling, hosted.info.hidden_size);
    }
    states.push_back(&state);
  }

  Batch batch;
  batch.seqs.reserve(request.seqs.size());
  for (size_t i = 0; i < request.seqs.size(); ++i) {
    const wire::StepSequence& s = request.seqs[i];
    const bool pooled = states[i]->pooler != nullptr;  // it returns a vector, not a token
    batch.seqs.push_back({s.start_pos, std::span<const int32_t>(s.tokens),
                          std::span<const int32_t>(states[i]->block_table), s.want_logits && !pooled, pooled});
  }
  const int64_t vocab = hosted.info.vocab_size;
  const int64_t width = hosted.info.hidden_size;
  logits_.resize(static_cast<size_t>(batch.NumLogitRows() * vocab));
  hidden_.resize(static_cast<size_t>(batch.NumHiddenRows() * width));
  if (Status st = hosted.runner->Forward(batch, logits_.data(), hidden_.data()); !st.ok()) {
    for (const wire::StepSequence& s : request.seqs) hosted.sequences.erase(s.request_id);
    return st;
  }

  wire::StepReply reply;
  int64_t hidden_row = 0;
  for (size_t i = 0; i < request.seqs.size(); ++i) {
    Pooler* pooler = states[i]->pooler.get();
    if (pooler == nullptr) continue;
    const wire::StepSequence& s = request.seqs[i];
    pooler->Add(hidden_.data() + hidden_row * width, static_cast<int64_t>(s.tokens.size()));
    hidden_row += static_cast<int64_t>(s.tokens.size());
    if (s.want_logits) reply.embeddings.push_back({s.request_id, pooler->Finish()});
  }
  int64_t row = 0;
  for (size_t i = 0; i < request.seqs.size(); ++i) {
    const wire::StepSequence& s = request.seqs[i];
    if (!s.want_logits || states[i]->pooler) continue;
    SequenceState& state = *states[i];
    std::span<const float> logits(logits_.data() + row * vocab, static_cast<size_t>(vocab));
    ++row;
    std::span<const int32_t> prompt, generated;
    if (PenaltyActive(state.sampling)) {
      const std::span<const int32_t> history(state.history);
      const size_t split = std::min(history.size(), static_cast<size_t>(state.num_prompt_tokens));
      prompt = history.first(split);
      generated = history.subspan(split);
    }
    const int64_t num_generated =
        static_cast<int64_t>(state.history.size()) - std::min<int64_t>(state.num_prompt_tokens, state.history.size());
    const EndTokens ends{hosted.info.eos_token_ids, num_generated};
    std::span<const uint64_t> allowed;
    if (!state.sampling.grammar.empty()) allowed = GrammarMask(hosted, state);
    SampleResult r = Sample(logits, state.sampling, prompt, generated, s.sample_position, scratch_, ends, allowed);
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
