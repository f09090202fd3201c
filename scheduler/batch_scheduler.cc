// Continuous batching with chunked prefill: see the design note in batch_scheduler.h.
#include "scheduler/batch_scheduler.h"

#include <algorithm>
#include <optional>
#include <string>
#include <unordered_set>

#include "common/check.h"

namespace hearth::scheduler {
namespace {

std::string Num(int64_t v) { return std::to_string(v); }

}  // namespace

Status ValidateSchedulerConfig(const SchedulerConfig& config) {
  if (config.idle_token_budget < 0) {
    return Status::InvalidArgument("idle_token_budget must not be negative, got " + Num(config.idle_token_budget));
  }
  if (config.token_budget < 1) {
    return Status::InvalidArgument("token_budget must be positive, got " + Num(config.token_budget));
  }
  if (config.max_num_seqs < 1) {
    return Status::InvalidArgument("max_num_seqs must be positive, got " + Num(config.max_num_seqs));
  }
  if (config.block_size < 1) {
    return Status::InvalidArgument("block_size must be positive, got " + Num(config.block_size));
  }
  return Status::Ok();
}

BatchScheduler::BatchScheduler(const SchedulerConfig& config, int32_t num_kv_blocks, const Clock* clock)
    : config_(config), clock_(clock), pool_(num_kv_blocks, std::max(config.block_size, 1)) {
  Status st = ValidateSchedulerConfig(config);
  CHECK(st.ok()) << st.ToString();
  CHECK(clock_ != nullptr);
}

Status BatchScheduler::Add(Request request) {
  const std::string who = "request " + Num(static_cast<int64_t>(request.id)) + ": ";
  if (request.prompt.empty()) return Status::InvalidArgument(who + "empty prompt");
  if (request.max_tokens < 1) {
    return Status::InvalidArgument(who + "max_tokens must be positive, got " + Num(request.max_tokens));
  }
  if (static_cast<int64_t>(request.generated.size()) >= request.max_tokens) {
    return Status::InvalidArgument(who + "already generated max_tokens tokens");
  }
  if (seqs_.contains(request.id)) return Status::InvalidArgument(who + "id already in use");

  auto seq = std::make_unique<Sequence>();
  seq->id = request.id;
  seq->priority = request.priority;
  seq->arrival = next_arrival_++;
  seq->num_prompt_tokens = static_cast<int32_t>(request.prompt.size());
  seq->tokens = std::move(request.prompt);
  seq->tokens.insert(seq->tokens.end(), request.generated.begin(), request.generated.end());
  seq->max_tokens = request.max_tokens;
  seq->eos_token_ids = std::move(request.eos_token_ids);
  seq->use_prefix_cache = request.use_prefix_cache;
  seq->times.arrival_ns = clock_->NowNanos();
  waiting_.insert(seq.get());
  seqs_.emplace(seq->id, std::move(seq));
  return Status::Ok();
}

const Sequence* BatchScheduler::Find(RequestId id) const {
  auto it = seqs_.find(id);
  return it == seqs_.end() ? nullptr : it->second.get();
}

int32_t BatchScheduler::BlocksFor(int32_t num_tokens) const {
  return (num_tokens + config_.block_size - 1) / config_.block_size;
}

int32_t BatchScheduler::StepBudget() const {
  if (config_.idle_token_budget <= config_.token_budget) return config_.token_budget;
  for (const Sequence* seq : running_) {
    if (seq->num_remaining() == 1) return config_.token_budget;
  }
  return config_.idle_token_budget;
}

SchedulerOutput BatchScheduler::Schedule() {
  CHECK(in_flight_.empty()) << "Schedule() before OnStepDone() of step " << step_;
  SchedulerOutput out;
  out.step = ++step_;
  step_budget_ = StepBudget();
  budget_left_ = step_budget_;
  preempted_this_step_ = false;
  const size_t max_seqs = static_cast<size_t>(config_.max_num_seqs);
  auto full = [&] { return budget_left_ < 1 || out.seqs.size() >= max_seqs; };

  // 0. Without chunking, a most important waiting prompt longer than the whole budget runs alone
  // in a step of its own (Admit() then leaves no budget for anything else); otherwise it would
  // wait forever behind the decodes.
  if (!config_.chunked_prefill && !waiting_.empty() && running_.size() < max_seqs &&
      (*waiting_.begin())->num_tokens() > step_budget_) {
    (void)Admit(*waiting_.begin(), out, /*only_alone=*/true);
  }
  // 1. Every running decode gets its token (stall-free).
  for (size_t i = 0; i < running_.size() && !full();) {
    if (running_[i]->num_remaining() != 1) {
      ++i;
      continue;
    }
    if (ScheduleRunning(i, 1, out) != Outcome::kRemoved) ++i;
  }
  // 2. Running sequences still catching up get their next chunk.
  for (size_t i = 0; i < running_.size() && !full();) {
    Sequence* seq = running_[i];
    if (seq->scheduled_step == step_ || seq->num_remaining() <= 1) {
      ++i;
      continue;
    }
    int32_t n = seq->num_remaining();
    if (config_.chunked_prefill) {
      n = std::min(n, budget_left_);
    } else if (n > budget_left_) {
      ++i;
      continue;
    }
    if (ScheduleRunning(i, n, out) != Outcome::kRemoved) ++i;
  }
  // 3. Waiting requests, while the step, the pool and the running set have room. A deferred one
  // (its next block is being computed) lets the ones behind it in.
  for (auto it = waiting_.begin();
       !preempted_this_step_ && it != waiting_.end() && !full() && running_.size() < max_seqs;) {
    Sequence* seq = *it++;  // Admit() may take seq out of waiting_
    if (Admit(seq, out) == Admission::kNoRoom) break;
  }

  CheckStepInvariants(out);
  for (const ScheduledSequence& s : out.seqs) in_flight_.push_back({s.id, s.want_logits});
  return out;
}

BatchScheduler::Outcome BatchScheduler::ScheduleRunning(size_t index, int32_t num_tokens, SchedulerOutput& out) {
  Sequence* seq = running_[index];
  const int32_t needed_total = BlocksFor(seq->num_computed_tokens + num_tokens);
  if (needed_total > pool_.num_blocks()) {
    // Only a decode can get here (admission checks the rest): the sequence outgrew the pool.
    out.failed.push_back(Finish(
        seq, FinishReason::kError,
        Status::ResourceExhausted("request " + Num(static_cast<int64_t>(seq->id)) + " needs " + Num(needed_total) +
                                  " KV blocks; the pool has only " + Num(pool_.num_blocks()))));
    return Outcome::kRemoved;
  }
  int32_t n = num_tokens;
  while (true) {
    const int32_t have = static_cast<int32_t>(seq->block_table.size());
    const int32_t need = BlocksFor(seq->num_computed_tokens + n) - have;
    if (std::optional<std::vector<int32_t>> blocks = pool_.Allocate(need)) {
      seq->block_table.insert(seq->block_table.end(), blocks->begin(), blocks->end());
      Emit(seq, n, out);
      return Outcome::kScheduled;
    }
    if (int32_t victim = PickVictim(index); victim >= 0) {
      Preempt(static_cast<size_t>(victim), out);
      continue;
    }
    if (config_.chunked_prefill && n > 1) {  // a chunk shrinks to the blocks there are
      const int32_t fit = (have + pool_.num_free()) * config_.block_size - seq->num_computed_tokens;
      if (fit >= 1) {
        n = std::min(n - 1, fit);
        continue;
      }
    }
    if (seq->num_remaining() == 1) {  // a decode cannot shrink: make room for the others
      Preempt(index, out);
      return Outcome::kRemoved;
    }
    return Outcome::kSkipped;  // keeps its blocks; the decodes ahead of it will free some
  }
}

int32_t BatchScheduler::PickVictim(size_t requester) const {
  for (size_t j = running_.size(); j-- > requester + 1;) {
    if (running_[j]->scheduled_step != step_) return static_cast<int32_t>(j);
  }
  return -1;
}

void BatchScheduler::Preempt(size_t index, SchedulerOutput& out) {
  Sequence* seq = running_[index];
  ReleasePromises(seq);
  pool_.Free(seq->block_table);
  seq->block_table.clear();
  seq->num_computed_tokens = 0;
  seq->num_hashed_blocks = 0;
  seq->last_block_hash = kRootBlockHash;
  seq->status = SequenceStatus::kPreempted;
  ++seq->num_preemptions;
  running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(index));
  waiting_.insert(seq);
  out.preempted.push_back(seq->id);
  preempted_this_step_ = true;
}

BatchScheduler::Admission BatchScheduler::Admit(Sequence* seq, SchedulerOutput& out, bool only_alone) {
  const int32_t total = seq->num_tokens();
  const int32_t bs = config_.block_size;
  const std::string who = "request " + Num(static_cast<int64_t>(seq->id));
  if (BlocksFor(total) > pool_.num_blocks()) {
    out.failed.push_back(
        Finish(seq, FinishReason::kError,
               Status::ResourceExhausted(who + " needs " + Num(BlocksFor(total)) + " KV blocks for " + Num(total) +
                                         " tokens; the pool has only " + Num(pool_.num_blocks()))));
    return Admission::kAdmitted;  // gone from waiting_: the next one may go
  }
  // Look up all but the last token: it must be computed to produce logits, and it would land in
  // a shared cached block, which stays immutable.
  // A request that wants every position computed looks up nothing (so it is never deferred).
  const size_t num_lookup = seq->use_prefix_cache ? static_cast<size_t>(total - 1) : 0;
  const std::span<const int32_t> lookup = std::span<const int32_t>(seq->tokens).first(num_lookup);
  CachedPrefix prefix = pool_.FindCachedPrefix(lookup);
  const int32_t cached = static_cast<int32_t>(prefix.blocks.size()) * bs;
  // The next full block is being computed by a running sequence: wait for it to be cached.
  if (cached + bs <= static_cast<int32_t>(lookup.size()) && !promised_.empty() &&
      promised_.contains(HashBlockTokens(prefix.last_hash, lookup.subspan(static_cast<size_t>(cached),
                                                                          static_cast<size_t>(bs))))) {
    pool_.Free(prefix.blocks);
    ++num_deferred_;
    return Admission::kDeferred;
  }
  const int32_t remaining = total - cached;
  int32_t n = remaining;
  if (only_alone && remaining <= step_budget_) {  // the prefix cache made it fit
    pool_.Free(prefix.blocks);
    return Admission::kNoRoom;
  }
  if (config_.chunked_prefill) {
    n = std::min(n, budget_left_);
  } else if (remaining > budget_left_) {
    // Whole prompts only: one that fits the budget waits for a step with room; one over the
    // whole budget runs alone, in a step that has nothing else yet (see Schedule()).
    if (remaining <= step_budget_ || !out.seqs.empty()) {
      pool_.Free(prefix.blocks);
      return Admission::kNoRoom;
    }
  }
  const int32_t need = BlocksFor(cached + n) - static_cast<int32_t>(prefix.blocks.size());
  std::optional<std::vector<int32_t>> blocks = pool_.Allocate(need);
  if (!blocks) {
    pool_.Free(prefix.blocks);
    return Admission::kNoRoom;
  }
  waiting_.erase(seq);
  pool_.CountLookup(static_cast<int64_t>(lookup.size()) / bs, static_cast<int64_t>(prefix.blocks.size()));
  seq->block_table = std::move(prefix.blocks);
  seq->block_table.insert(seq->block_table.end(), blocks->begin(), blocks->end());
  seq->num_computed_tokens = cached;
  seq->num_hashed_blocks = cached / bs;
  seq->last_block_hash = prefix.last_hash;
  seq->num_cached_tokens = cached;
  seq->status = SequenceStatus::kRunning;
  running_.insert(std::upper_bound(running_.begin(), running_.end(), seq, ByImportance()), seq);
  Promise(seq);
  Emit(seq, n, out);
  out.seqs.back().num_cached_tokens = cached;
  if (budget_left_ < 0) budget_left_ = 0;  // an oversized whole prompt: the step is its alone
  return Admission::kAdmitted;
}

void BatchScheduler::Promise(Sequence* seq) {
  CHECK(seq->promised_hashes.empty());
  const int32_t bs = config_.block_size;
  const std::span<const int32_t> tokens(seq->tokens);
  uint64_t hash = seq->last_block_hash;
  for (int32_t j = seq->num_hashed_blocks; (j + 1) * bs <= seq->num_tokens(); ++j) {
    hash = HashBlockTokens(hash, tokens.subspan(static_cast<size_t>(j * bs), static_cast<size_t>(bs)));
    seq->promised_hashes.push_back(hash);
    ++promised_[hash];
  }
}

void BatchScheduler::ReleasePromises(Sequence* seq, size_t count) {
  std::vector<uint64_t>& hashes = seq->promised_hashes;
  count = std::min(count, hashes.size());
  for (size_t i = 0; i < count; ++i) {
    auto it = promised_.find(hashes[i]);
    CHECK(it != promised_.end());
    if (--it->second == 0) promised_.erase(it);
  }
  hashes.erase(hashes.begin(), hashes.begin() + static_cast<std::ptrdiff_t>(count));
}

void BatchScheduler::Emit(Sequence* seq, int32_t num_tokens, SchedulerOutput& out) {
  ScheduledSequence s;
  s.id = seq->id;
  s.start_pos = seq->num_computed_tokens;
  s.num_tokens = num_tokens;
  auto first = seq->tokens.begin() + s.start_pos;
  s.token_ids.assign(first, first + num_tokens);
  s.block_table = seq->block_table;
  s.want_logits = s.start_pos + num_tokens == seq->num_tokens();
  seq->num_computed_tokens += num_tokens;
  seq->scheduled_step = step_;
  if (seq->times.first_scheduled_ns < 0) seq->times.first_scheduled_ns = clock_->NowNanos();
  budget_left_ -= num_tokens;
  out.num_batched_tokens += num_tokens;
  out.seqs.push_back(std::move(s));
}

void BatchScheduler::CheckStepInvariants(const SchedulerOutput& out) const {
  // The one exception to the budget: without chunking, a prompt over it runs alone.
  if (config_.chunked_prefill || out.seqs.size() != 1) CHECK_LE(out.num_batched_tokens, step_budget_);
  CHECK_LE(out.seqs.size(), static_cast<size_t>(config_.max_num_seqs));
  CHECK_LE(running_.size(), static_cast<size_t>(config_.max_num_seqs));
  int32_t sum = 0;
  std::unordered_set<RequestId> ids;
  for (const ScheduledSequence& s : out.seqs) {
    CHECK(ids.insert(s.id).second) << "request " << s.id << " scheduled twice";
    CHECK_GE(s.num_tokens, 1);
    CHECK_EQ(s.token_ids.size(), static_cast<size_t>(s.num_tokens));
    CHECK_EQ(static_cast<int32_t>(s.block_table.size()), BlocksFor(s.start_pos + s.num_tokens)) << "request " << s.id;
    for (int32_t b : s.block_table) CHECK_GT(pool_.ref_count(b), 0) << "request " << s.id;
    sum += s.num_tokens;
  }
  CHECK_EQ(sum, out.num_batched_tokens);
}

std::vector<FinishedRequest> BatchScheduler::OnStepDone(const StepResult& result) {
  std::unordered_map<RequestId, const SampledToken*> sampled;
  for (const SampledToken& t : result.sampled) {
    CHECK(sampled.emplace(t.id, &t).second) << "two tokens for request " << t.id;
  }
  std::unordered_set<RequestId> sampling;
  for (const InFlight& f : in_flight_) {
    if (f.want_logits) sampling.insert(f.id);
  }
  for (const SampledToken& t : result.sampled) {
    CHECK(sampling.contains(t.id)) << "token for request " << t.id << ", which did not sample";
  }

  std::vector<FinishedRequest> finished;
  const int64_t now = clock_->NowNanos();
  for (const InFlight& f : in_flight_) {
    auto it = seqs_.find(f.id);
    Sequence* seq = it == seqs_.end() ? nullptr : it->second.get();
    if (seq == nullptr || seq->status != SequenceStatus::kRunning || seq->scheduled_step != step_) {
      continue;  // aborted after Schedule()
    }
    RegisterFullBlocks(seq);
    if (!f.want_logits) continue;
    auto tok = sampled.find(f.id);
    CHECK(tok != sampled.end()) << "no token for request " << f.id;
    const SampledToken& t = *tok->second;
    seq->tokens.push_back(t.token);
    SequenceTimes& times = seq->times;
    if (times.first_token_ns < 0) times.first_token_ns = now;
    times.last_token_ns = now;
    ++times.num_sampled;
    const bool eos =
        std::find(seq->eos_token_ids.begin(), seq->eos_token_ids.end(), t.token) != seq->eos_token_ids.end();
    if (t.stop) {
      finished.push_back(Finish(seq, FinishReason::kStop, Status::Ok()));
    } else if (eos) {
      finished.push_back(Finish(seq, FinishReason::kEos, Status::Ok()));
    } else if (seq->num_generated() >= seq->max_tokens) {
      finished.push_back(Finish(seq, FinishReason::kMaxTokens, Status::Ok()));
    }
  }
  in_flight_.clear();
  return finished;
}

PrefixImport BatchScheduler::BeginPrefixImport(std::span<const int32_t> tokens, int32_t max_fresh) {
  const int32_t bs = config_.block_size;
  const int32_t full = static_cast<int32_t>(tokens.size()) / bs;
  PrefixImport import;
  CachedPrefix prefix = pool_.FindCachedPrefix(tokens.first(static_cast<size_t>(full * bs)));
  import.held = std::move(prefix.blocks);
  import.parent_hash = prefix.last_hash;
  import.first_fresh = static_cast<int32_t>(import.held.size());
  const int32_t want = std::min({full - import.first_fresh, std::max(max_fresh, 0), pool_.num_free()});
  if (want > 0) import.fresh = *pool_.Allocate(want);
  return import;
}

void BatchScheduler::EndPrefixImport(const PrefixImport& import, std::span<const int32_t> tokens, bool written) {
  const int32_t bs = config_.block_size;
  if (written) {
    uint64_t parent = import.parent_hash;
    for (size_t j = 0; j < import.fresh.size(); ++j) {
      const size_t at = (static_cast<size_t>(import.first_fresh) + j) * static_cast<size_t>(bs);
      parent = pool_.MarkFull(import.fresh[j], parent, tokens.subspan(at, static_cast<size_t>(bs)));
    }
  }
  // As a finished sequence's table: Free() walks it backwards, so the head is evicted last.
  std::vector<int32_t> all = import.held;
  all.insert(all.end(), import.fresh.begin(), import.fresh.end());
  pool_.Free(all);
}

void BatchScheduler::RegisterFullBlocks(Sequence* seq) {
  const int32_t bs = config_.block_size;
  const int32_t num_full = seq->num_computed_tokens / bs;
  std::span<const int32_t> tokens(seq->tokens);
  for (int32_t j = seq->num_hashed_blocks; j < num_full; ++j) {
    seq->last_block_hash = pool_.MarkFull(seq->block_table[static_cast<size_t>(j)], seq->last_block_hash,
                                          tokens.subspan(static_cast<size_t>(j * bs), static_cast<size_t>(bs)));
  }
  if (num_full > seq->num_hashed_blocks) ReleasePromises(seq, static_cast<size_t>(num_full - seq->num_hashed_blocks));
  seq->num_hashed_blocks = std::max(seq->num_hashed_blocks, num_full);
}

void BatchScheduler::RemoveFromQueues(Sequence* seq) {
  ReleasePromises(seq);
  if (seq->status == SequenceStatus::kRunning) {
    auto it = std::find(running_.begin(), running_.end(), seq);
    CHECK(it != running_.end());
    running_.erase(it);
  } else {
    CHECK_EQ(waiting_.erase(seq), 1u);
  }
  pool_.Free(seq->block_table);
  seq->block_table.clear();
}

FinishedRequest BatchScheduler::Finish(Sequence* seq, FinishReason reason, Status status) {
  RemoveFromQueues(seq);
  seq->status = SequenceStatus::kFinished;
  seq->times.finished_ns = clock_->NowNanos();
  FinishedRequest f;
  f.id = seq->id;
  f.status = std::move(status);
  f.reason = reason;
  f.generated.assign(seq->generated().begin(), seq->generated().end());
  f.num_prompt_tokens = seq->num_prompt_tokens;
  f.num_preemptions = seq->num_preemptions;
  f.timings = ComputeTimings(seq->times);
  seqs_.erase(seq->id);  // destroys *seq
  return f;
}

bool BatchScheduler::Abort(RequestId id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return false;
  RemoveFromQueues(it->second.get());
  seqs_.erase(it);
  return true;
}

}  // namespace hearth::scheduler
