// Fake worker for scheduler tests: a token-id "KV cache" and a hash "model".
#include "scheduler/testing/fake_executor.h"

#include <algorithm>

#include "common/check.h"
#include "scheduler/block_pool.h"

namespace hearth::scheduler {

FakeExecutor::FakeExecutor(int32_t num_blocks, int32_t block_size)
    : block_size_(block_size), kv_(static_cast<size_t>(num_blocks) * static_cast<size_t>(block_size), -1) {}

int32_t FakeExecutor::NextToken(std::span<const int32_t> history) {
  const uint64_t h = HashBlockTokens(0x5eed, history);
  if (h % 50 == 0) return kEosToken;
  return 1 + static_cast<int32_t>((h / 50) % (kVocabSize - 1));
}

std::vector<int32_t> FakeExecutor::Reference(std::span<const int32_t> prompt, int32_t max_tokens) {
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  std::vector<int32_t> generated;
  while (static_cast<int32_t>(generated.size()) < max_tokens) {
    const int32_t t = NextToken(history);
    history.push_back(t);
    generated.push_back(t);
    if (t == kEosToken) break;
  }
  return generated;
}

StepResult FakeExecutor::Execute(const SchedulerOutput& step) {
  auto slot = [&](const ScheduledSequence& s, int32_t pos) -> int32_t& {
    const size_t block_index = static_cast<size_t>(pos / block_size_);
    CHECK_LT(block_index, s.block_table.size()) << "request " << s.id << " position " << pos;
    const size_t block = static_cast<size_t>(s.block_table[block_index]);
    return kv_.at(block * static_cast<size_t>(block_size_) + static_cast<size_t>(pos % block_size_));
  };
  // All writes before all reads: a block shared by mistake then shows in someone's output.
  for (const ScheduledSequence& s : step.seqs) {
    for (int32_t i = 0; i < s.num_tokens; ++i) slot(s, s.start_pos + i) = s.token_ids[static_cast<size_t>(i)];
    num_tokens_run_ += s.num_tokens;
  }
  StepResult result;
  for (const ScheduledSequence& s : step.seqs) {
    if (!s.want_logits) continue;
    std::vector<int32_t> history;
    for (int32_t pos = 0; pos < s.start_pos + s.num_tokens; ++pos) {
      const int32_t t = slot(s, pos);
      CHECK_GE(t, 0) << "request " << s.id << " reads unwritten position " << pos;
      history.push_back(t);
    }
    result.sampled.push_back({s.id, NextToken(history), false});
  }
  return result;
}

std::vector<int32_t> FakeExecutor::ReadBlock(int32_t block) const {
  const auto at = kv_.begin() + static_cast<std::ptrdiff_t>(block) * block_size_;
  return std::vector<int32_t>(at, at + block_size_);
}

void FakeExecutor::WriteBlock(int32_t block, std::span<const int32_t> slots) {
  CHECK_EQ(static_cast<int32_t>(slots.size()), block_size_);
  std::copy(slots.begin(), slots.end(), kv_.begin() + static_cast<std::ptrdiff_t>(block) * block_size_);
}

}  // namespace hearth::scheduler
