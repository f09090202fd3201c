#include "daemon/engine/step_builder.h"

#include <algorithm>

#include "common/check.h"

namespace hearth::daemon {

wire::StepRequest StepBuilder::Build(const std::string& model, const scheduler::SchedulerOutput& out,
                                     const scheduler::BatchScheduler& sched, const SamplingOf& sampling_of,
                                     const PoolingOf& pooling_of) {
  for (scheduler::RequestId id : out.preempted) Release(id);  // its blocks were freed
  wire::StepRequest req;
  req.model = model;
  req.released = released_;
  req.seqs.reserve(out.seqs.size());
  for (const scheduler::ScheduledSequence& s : out.seqs) {
    wire::StepSequence w;
    w.request_id = s.id;
    w.start_pos = s.start_pos;
    w.tokens = s.token_ids;
    w.want_logits = s.want_logits;
    if (w.want_logits) w.sample_position = int64_t{s.start_pos} + s.num_tokens;

    Held& held = held_[s.id];  // new: empty, so the test below sends it full
    const bool appended = !held.block_table.empty() && held.num_tokens == s.start_pos &&
                          held.block_table.size() <= s.block_table.size() &&
                          std::equal(held.block_table.begin(), held.block_table.end(), s.block_table.begin());
    w.full = !appended;
    if (w.full) {
      const scheduler::Sequence* seq = sched.Find(s.id);
      CHECK(seq != nullptr) << "request " << s.id;
      w.block_table = s.block_table;
      w.history.assign(seq->tokens.begin(), seq->tokens.begin() + s.start_pos);
      w.num_prompt_tokens = seq->num_prompt_tokens;
      w.sampling = sampling_of(s.id);
      if (pooling_of) w.pooling = pooling_of(s.id);
      held.block_table = s.block_table;
    } else {
      const auto first_new = s.block_table.begin() + static_cast<std::ptrdiff_t>(held.block_table.size());
      w.block_table.assign(first_new, s.block_table.end());
      held.block_table.insert(held.block_table.end(), first_new, s.block_table.end());
    }
    w.num_blocks_after = static_cast<int32_t>(s.block_table.size());
    held.num_tokens = s.start_pos + s.num_tokens;
    req.seqs.push_back(std::move(w));
  }
  return req;
}

void StepBuilder::Delivered(const wire::StepRequest& step) {
  if (step.released.empty()) return;
  std::erase_if(released_, [&](uint64_t id) {
    return std::find(step.released.begin(), step.released.end(), id) != step.released.end();
  });
}

void StepBuilder::Release(uint64_t request_id) {
  if (held_.erase(request_id) > 0) released_.push_back(request_id);
}

void StepBuilder::Forget() {
  held_.clear();
  released_.clear();
}

}  // namespace hearth::daemon
