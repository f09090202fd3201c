// A stand-in for a worker in scheduler tests. It keeps a fake KV cache (the token id written at
// every slot of every block) and "samples" a token from the history it reads back through each
// sequence's block table, so a wrong block table, a stale cached block or a lost token changes
// the output, and outputs can be compared across schedules.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "scheduler/batch_scheduler.h"

namespace hearth::scheduler {

class FakeExecutor {
 public:
  static constexpr int32_t kEosToken = 0;
  static constexpr int32_t kVocabSize = 1000;

  FakeExecutor(int32_t num_blocks, int32_t block_size);

  // Writes every scheduled token into its slot, then samples for each sequence with want_logits.
  // CHECKs that the history it reads back has no unwritten slot.
  StepResult Execute(const SchedulerOutput& step);

  // The deterministic "model": EOS when the history's hash is 0 mod 50, else a token in
  // [1, kVocabSize).
  static int32_t NextToken(std::span<const int32_t> history);

  // What an unconstrained engine generates for `prompt` (stopping at EOS or max_tokens).
  static std::vector<int32_t> Reference(std::span<const int32_t> prompt, int32_t max_tokens);

  int64_t num_tokens_run() const { return num_tokens_run_; }

  // A block's slots, and writing them: what a KV transfer copies between two executors.
  std::vector<int32_t> ReadBlock(int32_t block) const;
  void WriteBlock(int32_t block, std::span<const int32_t> slots);

 private:
  int32_t block_size_;
  std::vector<int32_t> kv_;  // [num_blocks * block_size] token id per slot; -1 = never written
  int64_t num_tokens_run_ = 0;
};

}  // namespace hearth::scheduler
