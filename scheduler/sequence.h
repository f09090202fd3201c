// One request's scheduling state, as plain data: its tokens, how far its KV cache has caught up,
// which blocks hold that cache, and the timestamps behind its latency figures.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "scheduler/block_pool.h"

namespace hearth::scheduler {

using RequestId = uint64_t;

// What a caller hands to BatchScheduler::Add().
struct Request {
  RequestId id = 0;
  int32_t priority = 0;                // lower number = more important; ties go by arrival
  std::vector<int32_t> prompt;         // [num_prompt_tokens], not empty
  std::vector<int32_t> generated;      // tokens already committed (recovery replays them)
  int32_t max_tokens = 16;             // cap on generated tokens, `generated` included
  std::vector<int32_t> eos_token_ids;  // sampling one of these finishes the request
  // False: every prompt position is computed, none taken from the prefix cache, and the request
  // never waits for a block another sequence is computing (an embedding request pools the hidden
  // state of every position, which the cache does not hold). Its blocks are still cached for
  // others.
  bool use_prefix_cache = true;
};

enum class SequenceStatus { kWaiting, kRunning, kPreempted, kFinished };

// Clock readings (Clock::NowNanos); -1 until the event happens.
struct SequenceTimes {
  int64_t arrival_ns = -1;          // Add()
  int64_t first_scheduled_ns = -1;  // first Schedule() that gave it tokens
  int64_t first_token_ns = -1;      // first OnStepDone() that appended a sampled token
  int64_t last_token_ns = -1;       // latest such OnStepDone()
  int64_t finished_ns = -1;
  int32_t num_sampled = 0;  // tokens sampled since Add() (replayed ones excluded)
};

// Latencies derived from SequenceTimes, in nanoseconds; -1 where not (yet) defined.
struct RequestTimings {
  int64_t queue_ns = -1;                  // arrival -> first scheduled
  int64_t time_to_first_token_ns = -1;    // arrival -> first sampled token
  int64_t time_per_output_token_ns = -1;  // mean gap between sampled tokens (needs two)
  int64_t end_to_end_ns = -1;             // arrival -> finished
};

inline RequestTimings ComputeTimings(const SequenceTimes& t) {
  RequestTimings r;
  if (t.arrival_ns < 0) return r;
  if (t.first_scheduled_ns >= 0) r.queue_ns = t.first_scheduled_ns - t.arrival_ns;
  if (t.first_token_ns >= 0) r.time_to_first_token_ns = t.first_token_ns - t.arrival_ns;
  if (t.num_sampled >= 2) {
    r.time_per_output_token_ns = (t.last_token_ns - t.first_token_ns) / (t.num_sampled - 1);
  }
  if (t.finished_ns >= 0) r.end_to_end_ns = t.finished_ns - t.arrival_ns;
  return r;
}

struct Sequence {
  RequestId id = 0;
  int32_t priority = 0;
  uint64_t arrival = 0;         // order of Add() calls; unique
  std::vector<int32_t> tokens;  // [num_tokens()]: prompt, then generated
  int32_t num_prompt_tokens = 0;
  int32_t max_tokens = 0;
  std::vector<int32_t> eos_token_ids;
  bool use_prefix_cache = true;  // Request::use_prefix_cache

  // Tokens whose KV is computed (or scheduled in the step in flight). Catches up to num_tokens();
  // the last token is always left to compute, since computing it yields the next token's logits.
  int32_t num_computed_tokens = 0;
  std::vector<int32_t> block_table;           // blocks covering positions [0, num_computed_tokens)
  int32_t num_hashed_blocks = 0;              // leading blocks registered in the prefix cache
  uint64_t last_block_hash = kRootBlockHash;  // hash of block num_hashed_blocks - 1
  // While running: the content hashes of the full blocks it is still to compute, for blocks
  // [num_hashed_blocks, num_hashed_blocks + size) (a waiting request with the same next block
  // waits for it instead of computing it twice).
  std::vector<uint64_t> promised_hashes;

  SequenceStatus status = SequenceStatus::kWaiting;
  int64_t scheduled_step = -1;    // the Schedule() call that last gave it tokens
  int32_t num_cached_tokens = 0;  // prefix-cache hit at its latest admission
  int32_t num_preemptions = 0;
  SequenceTimes times;

  int32_t num_tokens() const { return static_cast<int32_t>(tokens.size()); }
  int32_t num_generated() const { return num_tokens() - num_prompt_tokens; }
  int32_t num_remaining() const { return num_tokens() - num_computed_tokens; }
  std::span<const int32_t> generated() const {
    return std::span<const int32_t>(tokens).subspan(static_cast<size_t>(num_prompt_tokens));
  }
};

}  // namespace hearth::scheduler
