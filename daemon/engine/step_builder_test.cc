#include "daemon/engine/step_builder.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "scheduler/testing/fake_clock.h"

namespace hearth::daemon {
namespace {

// What a worker keeps of each sequence, applying steps the way gpu_worker/step_executor does;
// Apply fails the test on a step the real worker would refuse.
struct WorkerMirror {
  struct Seq {
    std::vector<int32_t> blocks;
    std::vector<int32_t> history;
    int32_t num_prompt = 0;
  };
  std::map<uint64_t, Seq> seqs;

  void Apply(const wire::StepRequest& req) {
    for (uint64_t id : req.released) seqs.erase(id);
    for (const wire::StepSequence& s : req.seqs) {
      if (s.full) {
        ASSERT_EQ(s.history.size(), static_cast<size_t>(s.start_pos));
        seqs[s.request_id] = {s.block_table, s.history, s.num_prompt_tokens};
      } else {
        auto it = seqs.find(s.request_id);
        ASSERT_NE(it, seqs.end()) << "delta for unknown request " << s.request_id;
        ASSERT_EQ(it->second.history.size(), static_cast<size_t>(s.start_pos));
        it->second.blocks.insert(it->second.blocks.end(), s.block_table.begin(), s.block_table.end());
        ASSERT_EQ(it->second.blocks.size(), static_cast<size_t>(s.num_blocks_after));
      }
      Seq& q = seqs[s.request_id];
      q.history.insert(q.history.end(), s.tokens.begin(), s.tokens.end());
    }
  }
};

scheduler::SchedulerConfig SmallConfig() {
  scheduler::SchedulerConfig c;
  c.token_budget = 16;
  c.max_num_seqs = 6;
  c.block_size = 4;
  return c;
}

const SamplingParams kSampling;
const StepBuilder::SamplingOf kSamplingOf = [](uint64_t) -> const SamplingParams& { return kSampling; };

// Random requests, sharing prompt prefixes, on a pool small enough to preempt: after every step
// the worker's state rebuilt from the deltas is exactly the scheduler's block table and tokens.
TEST(StepBuilderTest, DeltasRebuildTheSchedulersStateThroughPreemptionAndPrefixHits) {
  scheduler::FakeClock clock;
  scheduler::BatchScheduler sched(SmallConfig(), /*num_kv_blocks=*/20, &clock);
  StepBuilder builder;
  WorkerMirror worker;
  std::mt19937 rng(5);
  const std::vector<int32_t> shared = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  for (uint64_t id = 1; id <= 12; ++id) {
    scheduler::Request r;
    r.id = id;
    r.prompt = shared;
    for (int i = 0, n = static_cast<int>(rng() % 14); i < n; ++i)
      r.prompt.push_back(10 + static_cast<int32_t>(rng() % 50));
    r.max_tokens = 4 + static_cast<int32_t>(rng() % 20);
    ASSERT_TRUE(sched.Add(r).ok());
  }
  int num_full = 0, num_delta = 0, num_preempted = 0, num_cached = 0;
  for (int step = 0; sched.has_unfinished() && step < 1000; ++step) {
    scheduler::SchedulerOutput out = sched.Schedule();
    ASSERT_TRUE(out.failed.empty());
    for (const auto& f : out.failed) builder.Release(f.id);
    num_preempted += static_cast<int>(out.preempted.size());
    const wire::StepRequest req = builder.Build("m", out, sched, kSamplingOf);
    ASSERT_NO_FATAL_FAILURE(worker.Apply(req));
    for (size_t i = 0; i < out.seqs.size(); ++i) {
      const scheduler::ScheduledSequence& s = out.seqs[i];
      const wire::StepSequence& w = req.seqs[i];
      (w.full ? num_full : num_delta)++;
      num_cached += s.num_cached_tokens > 0 ? 1 : 0;
      if (s.num_cached_tokens > 0) {
        EXPECT_TRUE(w.full);
      }
      const WorkerMirror::Seq& held = worker.seqs.at(s.id);
      EXPECT_EQ(held.blocks, s.block_table) << "request " << s.id;
      const scheduler::Sequence* seq = sched.Find(s.id);
      ASSERT_NE(seq, nullptr);
      EXPECT_EQ(held.history,
                std::vector<int32_t>(seq->tokens.begin(), seq->tokens.begin() + s.start_pos + s.num_tokens));
      EXPECT_EQ(held.num_prompt, seq->num_prompt_tokens);
    }
    builder.Delivered(req);
    scheduler::StepResult result;
    for (const scheduler::ScheduledSequence& s : out.seqs) {
      if (s.want_logits) result.sampled.push_back({s.id, 10 + static_cast<int32_t>(rng() % 50), false});
    }
    for (const scheduler::FinishedRequest& f : sched.OnStepDone(result)) builder.Release(f.id);
  }
  ASSERT_FALSE(sched.has_unfinished());
  EXPECT_GT(num_preempted, 0) << "the pool was meant to run out";
  EXPECT_GT(num_cached, 0) << "the shared prefix was meant to hit the cache";
  EXPECT_GT(num_delta, 4 * num_full);
  // Everything ended: the next step releases what the worker still holds.
  EXPECT_EQ(builder.num_held(), 0u);
  worker.Apply(builder.Build("m", {}, sched, kSamplingOf));
  EXPECT_TRUE(worker.seqs.empty());
}

TEST(StepBuilderTest, TableChangedOtherThanByAppendingGoesFull) {
  scheduler::FakeClock clock;
  scheduler::BatchScheduler sched(SmallConfig(), 20, &clock);
  ASSERT_TRUE(sched.Add({1, 0, {1, 2, 3, 4, 5}, {}, 8, {}}).ok());
  StepBuilder builder;
  scheduler::SchedulerOutput out = sched.Schedule();
  wire::StepRequest first = builder.Build("m", out, sched, kSamplingOf);
  ASSERT_EQ(first.seqs.size(), 1u);
  EXPECT_TRUE(first.seqs[0].full);
  EXPECT_EQ(first.seqs[0].block_table, out.seqs[0].block_table);
  (void)sched.OnStepDone({{{1, 42, false}}});

  out = sched.Schedule();
  scheduler::SchedulerOutput swapped = out;
  swapped.seqs[0].block_table[0] += 1;  // say, a cached block swapped in
  wire::StepRequest second = builder.Build("m", swapped, sched, kSamplingOf);
  EXPECT_TRUE(second.seqs[0].full);
  EXPECT_EQ(second.seqs[0].block_table, swapped.seqs[0].block_table);
  EXPECT_EQ(second.seqs[0].history, (std::vector<int32_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(second.seqs[0].num_prompt_tokens, 5);
  (void)sched.OnStepDone({{{1, 43, false}}});
  out = sched.Schedule();
  wire::StepRequest third = builder.Build("m", out, sched, kSamplingOf);
  EXPECT_TRUE(third.seqs[0].full) << "the table is back to the scheduler's: not what was sent";
  (void)sched.OnStepDone({{{1, 44, false}}});
  out = sched.Schedule();
  wire::StepRequest fourth = builder.Build("m", out, sched, kSamplingOf);
  EXPECT_FALSE(fourth.seqs[0].full);
  EXPECT_EQ(fourth.seqs[0].tokens, (std::vector<int32_t>{44}));
  EXPECT_EQ(fourth.seqs[0].num_blocks_after, static_cast<int32_t>(out.seqs[0].block_table.size()));
}

TEST(StepBuilderTest, ReleasesStayPendingUntilDeliveredAndForgetDropsAll) {
  scheduler::FakeClock clock;
  scheduler::BatchScheduler sched(SmallConfig(), 20, &clock);
  ASSERT_TRUE(sched.Add({1, 0, {1, 2, 3}, {}, 8, {}}).ok());
  ASSERT_TRUE(sched.Add({2, 0, {4, 5, 6}, {}, 8, {}}).ok());
  StepBuilder builder;
  scheduler::SchedulerOutput out = sched.Schedule();
  (void)builder.Build("m", out, sched, kSamplingOf);
  (void)sched.OnStepDone({{{1, 7, false}, {2, 8, false}}});
  builder.Release(1);
  builder.Release(99);  // never sent: nothing to tell the worker
  ASSERT_TRUE(sched.Abort(1));
  out = sched.Schedule();
  wire::StepRequest lost = builder.Build("m", out, sched, kSamplingOf);
  EXPECT_EQ(lost.released, (std::vector<uint64_t>{1}));
  // That step failed: its sequence ends, and the release goes again with it.
  builder.Release(2);
  ASSERT_TRUE(sched.Abort(2));
  (void)sched.OnStepDone({});
  ASSERT_TRUE(sched.Add({3, 0, {1, 2, 3}, {}, 8, {}}).ok());
  out = sched.Schedule();
  wire::StepRequest next = builder.Build("m", out, sched, kSamplingOf);
  EXPECT_EQ(next.released, (std::vector<uint64_t>{1, 2}));
  builder.Delivered(next);
  EXPECT_TRUE(builder.pending_releases().empty());
  (void)sched.OnStepDone({{{3, 9, false}}});
  // A replaced worker holds nothing: no releases, and every sequence full again.
  builder.Forget();
  EXPECT_EQ(builder.num_held(), 0u);
  out = sched.Schedule();
  wire::StepRequest after = builder.Build("m", out, sched, kSamplingOf);
  EXPECT_TRUE(after.released.empty());
  ASSERT_EQ(after.seqs.size(), 1u);
  EXPECT_TRUE(after.seqs[0].full);
  EXPECT_EQ(after.seqs[0].history.size(), static_cast<size_t>(after.seqs[0].start_pos));
}

}  // namespace
}  // namespace hearth::daemon
