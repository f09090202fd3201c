// BatchScheduler's decode runs (see batch_scheduler.h): several identical decode steps applied
// at once, for a caller that models time. Kept apart from the step logic it must agree with;
// batch_scheduler_decode_run_test.cc checks that agreement step for step.
#include <algorithm>

#include "common/check.h"
#include "scheduler/batch_scheduler.h"

namespace hearth::scheduler {

int32_t BatchScheduler::PlainDecodeSteps(int32_t max_steps, std::vector<RequestId>* ids,
                                         int64_t* context_tokens) const {
  if (!in_flight_.empty() || running_.empty() || max_steps < 1) return 0;
  const size_t max_seqs = static_cast<size_t>(config_.max_num_seqs);
  // Schedule() admits while the running set has room; every decode must fit the token budget.
  if (!waiting_.empty() && running_.size() < max_seqs) return 0;
  if (running_.size() > static_cast<size_t>(config_.token_budget)) return 0;
  int32_t steps = max_steps;
  for (const Sequence* seq : running_) {
    if (seq->num_remaining() != 1 || !seq->eos_token_ids.empty()) return 0;
    // Its step (max_tokens - generated) is the one that finishes it: not plain.
    steps = std::min(steps, seq->max_tokens - seq->num_generated() - 1);
  }
  if (steps < 1) return 0;
  // Blocks: nothing is freed meanwhile, so the first step whose allocations exceed the free
  // blocks would preempt. Blocks taken by step i: sum of BlocksFor(computed + i) - BlocksFor(computed).
  auto blocks_by = [&](int32_t i) {
    int64_t total = 0;
    for (const Sequence* seq : running_) {
      total += BlocksFor(seq->num_computed_tokens + i) - static_cast<int32_t>(seq->block_table.size());
    }
    return total;
  };
  if (blocks_by(steps) > pool_.num_free()) {
    int32_t lo = 0, hi = steps;  // blocks_by(lo) fits, blocks_by(hi) does not
    while (hi - lo > 1) {
      const int32_t mid = lo + (hi - lo) / 2;
      (blocks_by(mid) <= pool_.num_free() ? lo : hi) = mid;
    }
    steps = lo;
  }
  if (steps < 1) return 0;
  ids->clear();
  *context_tokens = 0;
  for (const Sequence* seq : running_) {
    ids->push_back(seq->id);
    *context_tokens += seq->num_computed_tokens + 1;
  }
  return steps;
}

void BatchScheduler::BeginPlainDecodeStep() {
  CHECK(in_flight_.empty()) << "AdvanceDecode() with step " << step_ << " in flight";
  ++step_;
  for (Sequence* seq : running_) {
    CHECK_EQ(seq->num_remaining(), 1) << "request " << seq->id << " is not decoding";
    const int32_t need = BlocksFor(seq->num_computed_tokens + 1) - static_cast<int32_t>(seq->block_table.size());
    if (need > 0) {
      std::optional<std::vector<int32_t>> blocks = pool_.Allocate(need);
      CHECK(blocks.has_value()) << "AdvanceDecode() past PlainDecodeSteps(): no block for request " << seq->id;
      seq->block_table.insert(seq->block_table.end(), blocks->begin(), blocks->end());
    }
    seq->num_computed_tokens += 1;
    seq->scheduled_step = step_;
  }
}

void BatchScheduler::EndPlainDecodeStep() {
  const int64_t now = clock_->NowNanos();
  for (Sequence* seq : running_) {
    RegisterFullBlocks(seq);
    SequenceTimes& times = seq->times;
    if (times.first_token_ns < 0) times.first_token_ns = now;
    times.last_token_ns = now;
    ++times.num_sampled;
    CHECK_LT(seq->num_generated(), seq->max_tokens)
        << "AdvanceDecode() past PlainDecodeSteps(): request " << seq->id << " finished";
  }
}

}  // namespace hearth::scheduler
