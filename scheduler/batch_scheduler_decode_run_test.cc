#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "scheduler/batch_scheduler.h"
#include "scheduler/testing/fake_clock.h"

namespace hearth::scheduler {
namespace {

int32_t TokenFor(RequestId id) { return 7 + static_cast<int32_t>(id % 13); }

Request Req(RequestId id, int32_t prompt_tokens, int32_t max_tokens, uint32_t seed) {
  std::mt19937 rng(seed);
  Request r;
  r.id = id;
  r.prompt.resize(static_cast<size_t>(prompt_tokens));
  for (int32_t& t : r.prompt) t = 100 + static_cast<int32_t>(rng() % 500);
  r.max_tokens = max_tokens;
  return r;
}

// One step the ordinary way, sampling TokenFor(id) for every sequence that samples.
SchedulerOutput Step(BatchScheduler& s, FakeClock& clock, std::vector<FinishedRequest>* finished) {
  SchedulerOutput out = s.Schedule();
  StepResult result;
  for (const ScheduledSequence& seq : out.seqs) {
    if (seq.want_logits) result.sampled.push_back({seq.id, TokenFor(seq.id), false});
  }
  clock.Advance(1000);
  if (!out.seqs.empty()) {
    auto f = s.OnStepDone(result);
    finished->insert(finished->end(), f.begin(), f.end());
  }
  return out;
}

void ExpectSameState(const BatchScheduler& a, const BatchScheduler& b, RequestId max_id) {
  for (RequestId id = 0; id <= max_id; ++id) {
    const Sequence* x = a.Find(id);
    const Sequence* y = b.Find(id);
    ASSERT_EQ(x == nullptr, y == nullptr) << "request " << id;
    if (!x) continue;
    EXPECT_EQ(x->tokens, y->tokens) << "request " << id;
    EXPECT_EQ(x->num_computed_tokens, y->num_computed_tokens) << "request " << id;
    EXPECT_EQ(x->block_table, y->block_table) << "request " << id;
    EXPECT_EQ(x->num_hashed_blocks, y->num_hashed_blocks) << "request " << id;
    EXPECT_EQ(x->last_block_hash, y->last_block_hash) << "request " << id;
    EXPECT_EQ(x->promised_hashes, y->promised_hashes) << "request " << id;
    EXPECT_EQ(x->scheduled_step, y->scheduled_step) << "request " << id;
    EXPECT_EQ(x->status, y->status) << "request " << id;
    EXPECT_EQ(x->times.last_token_ns, y->times.last_token_ns) << "request " << id;
    EXPECT_EQ(x->times.num_sampled, y->times.num_sampled) << "request " << id;
  }
  EXPECT_EQ(a.block_pool().FreeListForTest(), b.block_pool().FreeListForTest());
  EXPECT_EQ(a.block_pool().num_cached(), b.block_pool().num_cached());
  EXPECT_EQ(a.block_pool().stats().num_evictions, b.block_pool().stats().num_evictions);
  EXPECT_EQ(a.num_waiting(), b.num_waiting());
  EXPECT_EQ(a.num_running(), b.num_running());
  a.block_pool().CheckConsistency();
  b.block_pool().CheckConsistency();
}

// Random workloads: whenever PlainDecodeSteps says k, one scheduler takes AdvanceDecode(k)
// and the other k ordinary steps; states and every later step must agree to the end.
TEST(BatchSchedulerDecodeRunTest, AdvanceDecodeIsThatManyOrdinarySteps) {
  int64_t advanced = 0, limited_by_blocks = 0, with_waiting = 0;
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    std::mt19937 rng(seed);
    SchedulerConfig config;
    config.token_budget = 64;
    config.max_num_seqs = 2 + static_cast<int32_t>(rng() % 6);
    config.block_size = 4;
    const int32_t num_blocks = 24 + static_cast<int32_t>(rng() % 60);
    FakeClock ca, cb;
    BatchScheduler a(config, num_blocks, &ca), b(config, num_blocks, &cb);
    std::vector<FinishedRequest> fa, fb;
    RequestId next_id = 0;
    for (int round = 0; round < 400 && (round < 60 || a.has_unfinished()); ++round) {
      if (round < 60 && rng() % 4 == 0) {
        const Request r = Req(next_id++, 1 + static_cast<int32_t>(rng() % 30), 1 + static_cast<int32_t>(rng() % 60),
                              seed * 1000 + static_cast<uint32_t>(round));
        ASSERT_TRUE(a.Add(r).ok());
        ASSERT_TRUE(b.Add(r).ok());
      }
      std::vector<RequestId> ids;
      int64_t context = 0;
      const int32_t k = a.PlainDecodeSteps(1000, &ids, &context);
      if (k >= 1) {
        advanced += k;
        with_waiting += a.num_waiting() > 0;
        const int32_t fit = a.PlainDecodeSteps(1000000, &ids, &context);
        EXPECT_EQ(fit, k);
        // The first step's shape, as Schedule() will build it.
        int64_t expect_context = 0;
        const int32_t take = 1 + static_cast<int32_t>(rng() % static_cast<uint32_t>(k));
        ca.Advance(1000 * take);  // the clock at the end of the last step, as b's will be
        a.AdvanceDecode(take, TokenFor);
        for (int32_t i = 0; i < take; ++i) {
          const SchedulerOutput out = Step(b, cb, &fb);
          ASSERT_EQ(out.seqs.size(), ids.size());
          EXPECT_TRUE(out.preempted.empty());
          EXPECT_TRUE(out.failed.empty());
          for (size_t j = 0; j < ids.size(); ++j) {
            EXPECT_EQ(out.seqs[j].id, ids[j]);
            EXPECT_EQ(out.seqs[j].num_tokens, 1);
            if (i == 0) expect_context += out.seqs[j].start_pos + 1;
          }
          if (i == 0) {
            EXPECT_EQ(expect_context, context);
          }
        }
        ASSERT_TRUE(fb.size() == fa.size()) << "a plain step finished a request";
        // The step after a whole run is not plain: it finishes or preempts something.
        if (take == k && k < 1000) {
          std::vector<FinishedRequest> fa2, fb2;
          const SchedulerOutput x = Step(a, ca, &fa2);
          const SchedulerOutput y = Step(b, cb, &fb2);
          limited_by_blocks += !x.preempted.empty();
          EXPECT_TRUE(!x.preempted.empty() || !fa2.empty()) << "seed " << seed << ": the run could have been longer";
          fa.insert(fa.end(), fa2.begin(), fa2.end());
          fb.insert(fb.end(), fb2.begin(), fb2.end());
          EXPECT_EQ(x.seqs.size(), y.seqs.size());
        }
        ExpectSameState(a, b, next_id);
        continue;
      }
      const SchedulerOutput x = Step(a, ca, &fa);
      const SchedulerOutput y = Step(b, cb, &fb);
      ASSERT_EQ(x.seqs.size(), y.seqs.size());
      for (size_t j = 0; j < x.seqs.size(); ++j) {
        EXPECT_EQ(x.seqs[j].id, y.seqs[j].id);
        EXPECT_EQ(x.seqs[j].block_table, y.seqs[j].block_table);
        EXPECT_EQ(x.seqs[j].token_ids, y.seqs[j].token_ids);
      }
    }
    ASSERT_EQ(fa.size(), fb.size());
    for (size_t i = 0; i < fa.size(); ++i) {
      EXPECT_EQ(fa[i].id, fb[i].id);
      EXPECT_EQ(fa[i].generated, fb[i].generated);
      EXPECT_EQ(fa[i].num_preemptions, fb[i].num_preemptions);
    }
    ExpectSameState(a, b, next_id);
  }
  std::printf("advanced %lld steps, %lld runs beside a queue, %lld cut by the blocks\n",
              static_cast<long long>(advanced), static_cast<long long>(with_waiting),
              static_cast<long long>(limited_by_blocks));
  EXPECT_GT(advanced, 1000) << "the workloads must exercise decode runs";
  EXPECT_GT(with_waiting, 10) << "runs with a full running set and a queue";
  EXPECT_GT(limited_by_blocks, 10) << "runs cut short by the free blocks";
}

TEST(BatchSchedulerDecodeRunTest, NotPlainWhileSomethingCanJoinOrEnd) {
  SchedulerConfig config;
  config.token_budget = 64;
  config.max_num_seqs = 2;
  config.block_size = 4;
  FakeClock clock;
  BatchScheduler s(config, 100, &clock);
  std::vector<RequestId> ids;
  int64_t context = 0;
  std::vector<FinishedRequest> finished;
  EXPECT_EQ(s.PlainDecodeSteps(100, &ids, &context), 0) << "nothing running";
  ASSERT_TRUE(s.Add(Req(1, 10, 20, 1)).ok());
  EXPECT_EQ(s.PlainDecodeSteps(100, &ids, &context), 0) << "a prompt to prefill";
  Step(s, clock, &finished);  // prefill, first token
  // 19 tokens to go: 18 plain steps, the 19th finishes it.
  EXPECT_EQ(s.PlainDecodeSteps(100, &ids, &context), 18);
  EXPECT_EQ(s.PlainDecodeSteps(5, &ids, &context), 5);
  EXPECT_EQ(ids, std::vector<RequestId>{1});
  EXPECT_EQ(context, 11);
  ASSERT_TRUE(s.Add(Req(2, 10, 20, 2)).ok());
  EXPECT_EQ(s.PlainDecodeSteps(100, &ids, &context), 0) << "room to admit the waiting one";
  Step(s, clock, &finished);
  ASSERT_TRUE(s.Add(Req(3, 10, 20, 3)).ok());
  EXPECT_EQ(s.PlainDecodeSteps(100, &ids, &context), 17) << "full: the waiting one cannot join";
  Request eos = Req(4, 10, 20, 4);
  eos.eos_token_ids = {5};
  SchedulerConfig one = config;
  one.max_num_seqs = 1;
  BatchScheduler e(one, 100, &clock);
  ASSERT_TRUE(e.Add(eos).ok());
  Step(e, clock, &finished);
  EXPECT_EQ(e.PlainDecodeSteps(100, &ids, &context), 0) << "an EOS could end it at any step";
}

}  // namespace
}  // namespace hearth::scheduler
