// Continuous batching with chunked prefill (Sarathi-Serve's stall-free batching) over paged KV
// blocks with automatic prefix caching and preemption by recomputation.
//
// Design. Every sequence has num_computed_tokens catching up to num_tokens() (prompt + generated)
// under a per-step token budget; there is no separate prefill phase. Each Schedule() fills one
// step, most important first (priority, then arrival):
//   1. every running decode (1 token each), so a long prompt never stalls generation;
//   2. the next chunk of every running sequence still catching up;
//   3. waiting (new or preempted) requests, skipping the tokens the prefix cache already holds.
// Blocks are allocated for exactly the tokens scheduled. When they run out, the least important
// running sequence not yet scheduled this step is preempted (blocks freed, but left in the prefix
// cache, so its recomputation is often a cache hit). Where the only candidates are more important,
// a decode preempts itself, and a prefill shrinks its chunk to the blocks left or waits a step
// holding what it has (the decodes ahead of it free blocks or preempt themselves). A step that preempted
// admits nothing, so a preempted sequence cannot bounce straight back. Admission itself never
// preempts: a more important waiting request waits for blocks to free up. A request that cannot fit
// in the whole pool fails with a Status instead of looping. Full computed blocks are registered in
// the prefix cache in OnStepDone(), after their KV exists, so no batch reads a block that the
// same batch is writing. A waiting request whose next uncached full block a running sequence is
// computing (the same prompt prefix, e.g. the choices of an n > 1 request or prompts sharing a
// system prompt sent together) is deferred until that block is in the cache, so it reuses the
// block instead of computing it again; requests behind it are admitted meanwhile.
//
// Pure logic: no I/O, no threads, time only from the injected Clock. Not thread-safe: one owner
// calls Schedule() and OnStepDone() alternately.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "scheduler/block_pool.h"
#include "scheduler/clock.h"
#include "scheduler/sequence.h"

namespace hearth::scheduler {

struct SchedulerConfig {
  int32_t token_budget = 512;   // tokens per step, all sequences together
  int32_t max_num_seqs = 128;   // running sequences (and so sequences per step)
  int32_t block_size = 16;      // tokens per KV block
  // false ("whole prompts first", the baseline): a prompt is never cut into chunks; one that does
  // not fit the budget left in a step waits, and one longer than the whole budget runs alone in a
  // step of its own (the running decodes skip that step).
  bool chunked_prefill = true;
  // Tokens per step while no running sequence is decoding (0 or less than token_budget:
  // token_budget). token_budget is what a step may cost while decodes wait on it (their time per
  // output token target); with none waiting, a prompt runs in as few steps as this allows.
  int32_t idle_token_budget = 0;
};

// InvalidArgument unless every field is positive. Stall-free decoding also wants
// token_budget >= max_num_seqs, which is not enforced.
Status ValidateSchedulerConfig(const SchedulerConfig& config);

// One sequence's share of a step.
struct ScheduledSequence {
  RequestId id = 0;
  int32_t start_pos = 0;             // num_computed_tokens before this step
  int32_t num_tokens = 0;            // tokens to run this step
  std::vector<int32_t> token_ids;    // [num_tokens] ids at positions [start_pos, start_pos + n)
  std::vector<int32_t> block_table;  // [ceil((start_pos + num_tokens) / block_size)]
  bool want_logits = false;          // this step reaches the last known token: sample one
  int32_t num_cached_tokens = 0;     // on admission: tokens served by the prefix cache; else 0
};

enum class FinishReason { kEos, kMaxTokens, kStop, kError };

struct FinishedRequest {
  RequestId id = 0;
  Status status;  // not OK when the scheduler could not serve it
  FinishReason reason = FinishReason::kEos;
  std::vector<int32_t> generated;  // all generated tokens, replayed ones included
  int32_t num_prompt_tokens = 0;
  int32_t num_preemptions = 0;
  RequestTimings timings;
};

// A step, as plain data.
struct SchedulerOutput {
  int64_t step = 0;                     // counts Schedule() calls from 1
  std::vector<ScheduledSequence> seqs;  // most important first
  int32_t num_batched_tokens = 0;       // sum of seqs[i].num_tokens
  std::vector<RequestId> preempted;     // sent back to the waiting queue this step
  std::vector<FinishedRequest> failed;  // given up this step (status says why)
};

// What the executor sampled: one token for each scheduled sequence with want_logits.
struct SampledToken {
  RequestId id = 0;
  int32_t token = 0;
  bool stop = false;  // the caller decided to stop (e.g. a stop string matched)
};

struct StepResult {
  std::vector<SampledToken> sampled;
};

// Full blocks of KV computed elsewhere (another node's cache) entering this pool's prefix cache,
// in two halves around the copy of their bytes: BeginPrefixImport takes the blocks, the caller
// writes the bytes into them, EndPrefixImport registers them (or, unwritten, gives them back).
struct PrefixImport {
  std::vector<int32_t> held;   // the leading blocks the cache had already (referenced until End)
  std::vector<int32_t> fresh;  // blocks to write, for the full blocks after `held`, in order
  int32_t first_fresh = 0;     // index of fresh[0] among the tokens' blocks
  uint64_t parent_hash = kRootBlockHash;  // the hash of held's last block, which fresh[0] chains to
};

class BatchScheduler {
 public:
  // `clock` must outlive the scheduler. CHECKs that ValidateSchedulerConfig() passes.
  BatchScheduler(const SchedulerConfig& config, int32_t num_kv_blocks, const Clock* clock);

  // Queues a request. InvalidArgument for an empty prompt, max_tokens < 1, a request that already
  // generated max_tokens, or an id that is queued or running.
  Status Add(Request request);

  // Builds the next step. Call OnStepDone() before the next Schedule() when seqs is not empty.
  SchedulerOutput Schedule();

  // Records the step's results: registers newly full blocks in the prefix cache, appends sampled
  // tokens, and finishes (freeing blocks) sequences that sampled EOS, hit max_tokens or were told
  // to stop. Tokens for aborted requests are ignored. Returns the requests that finished.
  std::vector<FinishedRequest> OnStepDone(const StepResult& result);

  // Drops a queued or running request and frees its blocks. False when the id is unknown.
  bool Abort(RequestId id);

  const Sequence* Find(RequestId id) const;

  // The first half of an import of the full blocks of `tokens` (a whole number of blocks; a
  // partial last one is ignored): the blocks the cache has are found and held, and free blocks
  // are taken for the rest, at most `max_fresh` and no more than are free (evicting cached ones
  // least recently used first). Between the halves nothing else may use the pool: call End
  // before the next Schedule().
  PrefixImport BeginPrefixImport(std::span<const int32_t> tokens, int32_t max_fresh);
  // The second half: `written` true registers the fresh blocks in the prefix cache after the
  // held ones; false gives them back uncached. Every block of the import is then released, so
  // the imported blocks wait on the free list, cached, for the request they were sent for.
  void EndPrefixImport(const PrefixImport& import, std::span<const int32_t> tokens, bool written);
  int32_t num_waiting() const { return static_cast<int32_t>(waiting_.size()); }
  int32_t num_running() const { return static_cast<int32_t>(running_.size()); }
  bool has_unfinished() const { return !seqs_.empty(); }
  const BlockPool& block_pool() const { return pool_; }
  // Full blocks that running sequences are still to compute (distinct contents).
  int32_t num_promised_blocks() const { return static_cast<int32_t>(promised_.size()); }
  // Admissions put off because a running sequence was computing the request's next block.
  int64_t num_deferred_admissions() const { return num_deferred_; }
  const SchedulerConfig& config() const { return config_; }

  // Decode runs, for a caller that models time (hearth-sim): while every running sequence is
  // decoding and nothing can join, leave or be preempted, the next steps all have the same shape,
  // and AdvanceDecode() applies several of them at once, exactly as that many Schedule() and
  // OnStepDone() pairs would (the same blocks allocated and registered in the same order).
  //
  // The number of steps, at most `max_steps`, from now on (nothing in flight) in which every
  // running sequence decodes one token and none finishes, none is preempted and nothing is
  // admitted, provided the caller samples no stop and no EOS: 0 when the next step is not such a
  // step (a sequence with EOS ids counts as one that may finish). `ids` gets the running sequences
  // in step order and `context_tokens` the sum of start_pos + 1 over them in the first step.
  int32_t PlainDecodeSteps(int32_t max_steps, std::vector<RequestId>* ids, int64_t* context_tokens) const;
  // Applies `num_steps` <= PlainDecodeSteps() such steps, sampling token(id) for each sequence;
  // the clock is read once, as the end of the last step.
  template <typename TokenFn>
  void AdvanceDecode(int32_t num_steps, TokenFn&& token) {
    for (int32_t i = 0; i < num_steps; ++i) {
      BeginPlainDecodeStep();
      for (Sequence* seq : running_) seq->tokens.push_back(token(seq->id));
      EndPlainDecodeStep();
    }
  }

 private:
  struct ByImportance {
    bool operator()(const Sequence* a, const Sequence* b) const {
      return a->priority != b->priority ? a->priority < b->priority : a->arrival < b->arrival;
    }
  };
  enum class Outcome { kScheduled, kSkipped, kRemoved };
  enum class Admission { kAdmitted, kNoRoom, kDeferred };
  struct InFlight {
    RequestId id;
    bool want_logits;
  };

  int32_t BlocksFor(int32_t num_tokens) const;
  // token_budget while any running sequence decodes, else the larger idle_token_budget.
  int32_t StepBudget() const;
  Outcome ScheduleRunning(size_t index, int32_t num_tokens, SchedulerOutput& out);
  // only_alone: admit only a whole prompt over the budget, alone in its step (no chunking).
  Admission Admit(Sequence* seq, SchedulerOutput& out, bool only_alone = false);
  // The hashes of the full blocks `seq` is to compute, from its num_hashed_blocks on.
  void Promise(Sequence* seq);
  // Withdraws its first `count` promises (all by default): those blocks are cached, or it left.
  void ReleasePromises(Sequence* seq, size_t count = SIZE_MAX);
  int32_t PickVictim(size_t requester) const;
  void Preempt(size_t index, SchedulerOutput& out);
  void Emit(Sequence* seq, int32_t num_tokens, SchedulerOutput& out);
  void RegisterFullBlocks(Sequence* seq);
  FinishedRequest Finish(Sequence* seq, FinishReason reason, Status status);
  void RemoveFromQueues(Sequence* seq);
  void CheckStepInvariants(const SchedulerOutput& out) const;
  // AdvanceDecode's halves of one step: Schedule()'s allocations, then OnStepDone()'s
  // registrations and bookkeeping after the caller appended each sequence's token.
  void BeginPlainDecodeStep();
  void EndPlainDecodeStep();

  // Constant after construction.
  const SchedulerConfig config_;
  const Clock* const clock_;

  BlockPool pool_;
  std::unordered_map<RequestId, std::unique_ptr<Sequence>> seqs_;  // every unfinished request
  std::vector<Sequence*> running_;                                 // sorted by ByImportance
  std::set<Sequence*, ByImportance> waiting_;                      // new and preempted
  std::unordered_map<uint64_t, int32_t> promised_;  // block hash -> running sequences computing it
  int64_t num_deferred_ = 0;
  uint64_t next_arrival_ = 0;
  int64_t step_ = 0;
  int32_t step_budget_ = 0;           // during Schedule(): this step's budget
  int32_t budget_left_ = 0;           // during Schedule()
  bool preempted_this_step_ = false;  // during Schedule()
  std::vector<InFlight> in_flight_;   // the step awaiting OnStepDone()
};

}  // namespace hearth::scheduler
