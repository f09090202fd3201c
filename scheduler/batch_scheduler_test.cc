#include "scheduler/batch_scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "scheduler/testing/fake_clock.h"
#include "scheduler/testing/fake_executor.h"

namespace hearth::scheduler {
namespace {

constexpr int32_t kEos = FakeExecutor::kEosToken;
constexpr int64_t kStepNs = 1000;

std::vector<int32_t> RandomTokens(std::mt19937& rng, int32_t n) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (int32_t& t : v) t = 1 + static_cast<int32_t>(rng() % (FakeExecutor::kVocabSize - 1));
  return v;
}

// A prompt whose reference generation runs `len` tokens without EOS.
std::vector<int32_t> LongLivedPrompt(uint32_t seed, int32_t n, int32_t len) {
  std::mt19937 rng(seed);
  while (true) {
    std::vector<int32_t> p = RandomTokens(rng, n);
    if (static_cast<int32_t>(FakeExecutor::Reference(p, len).size()) == len &&
        FakeExecutor::Reference(p, len).back() != kEos) {
      return p;
    }
  }
}

Request MakeRequest(RequestId id, std::vector<int32_t> prompt, int32_t max_tokens, int32_t priority = 0) {
  Request r;
  r.id = id;
  r.priority = priority;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.eos_token_ids = {kEos};
  return r;
}

struct Arrival {
  int64_t step;  // added just before this Schedule() call (0 = the first)
  Request request;
};

// Drives a scheduler with the fake executor and checks the invariants after every step.
class Harness {
 public:
  Harness(const SchedulerConfig& config, int32_t num_blocks)
      : config_(config), sched_(config, num_blocks, &clock_), exec_(num_blocks, config.block_size) {}

  void Add(Request r) {
    live_.insert(r.id);
    ASSERT_TRUE(sched_.Add(std::move(r)).ok());
  }

  SchedulerOutput Step() {
    std::set<RequestId> decodes;
    for (RequestId id : live_) {
      const Sequence* s = sched_.Find(id);
      if (s && s->status == SequenceStatus::kRunning && s->num_remaining() == 1) decodes.insert(id);
    }
    SchedulerOutput out = sched_.Schedule();
    ++steps_;
    // Without chunking, a prompt over the whole budget runs alone: the one exception.
    // With no decode running, a step may use the idle budget.
    const int32_t budget =
        decodes.empty() ? std::max(config_.token_budget, config_.idle_token_budget) : config_.token_budget;
    const bool solo = !config_.chunked_prefill && out.seqs.size() == 1 && out.num_batched_tokens > budget;
    if (solo) ++solo_steps_;
    EXPECT_TRUE(solo || out.num_batched_tokens <= budget) << "step " << out.step;
    EXPECT_LE(static_cast<int32_t>(out.seqs.size()), config_.max_num_seqs);
    for (const ScheduledSequence& s : out.seqs) {
      const int32_t blocks = (s.start_pos + s.num_tokens + config_.block_size - 1) / config_.block_size;
      EXPECT_EQ(static_cast<int32_t>(s.block_table.size()), blocks);
      decodes.erase(s.id);
    }
    // Stall-free: a decode is skipped only when it was preempted or failed.
    if (config_.token_budget >= config_.max_num_seqs && !solo) {
      for (RequestId id : out.preempted) decodes.erase(id);
      for (const FinishedRequest& f : out.failed) decodes.erase(f.id);
      EXPECT_TRUE(decodes.empty()) << "a running decode was skipped at step " << out.step;
    }
    preemptions_ += static_cast<int64_t>(out.preempted.size());
    for (const FinishedRequest& f : out.failed) Record(f);
    StepResult result = exec_.Execute(out);
    clock_.Advance(kStepNs);
    for (const FinishedRequest& f : sched_.OnStepDone(result)) Record(f);
    sched_.block_pool().CheckConsistency();
    return out;
  }

  // Adds each arrival at its step and steps until every request has finished.
  void Run(std::vector<Arrival> arrivals, int64_t max_steps = 20000) {
    std::stable_sort(arrivals.begin(), arrivals.end(),
                     [](const Arrival& a, const Arrival& b) { return a.step < b.step; });
    size_t next = 0;
    for (int64_t step = 0; next < arrivals.size() || sched_.has_unfinished(); ++step) {
      ASSERT_LT(step, max_steps) << "no progress";
      while (next < arrivals.size() && arrivals[next].step <= step) Add(arrivals[next++].request);
      Step();
    }
    EXPECT_EQ(sched_.block_pool().num_free(), sched_.block_pool().num_blocks());
    EXPECT_EQ(sched_.num_promised_blocks(), 0);
  }

  BatchScheduler& sched() { return sched_; }
  FakeClock& clock() { return clock_; }
  FakeExecutor& exec() { return exec_; }
  const std::map<RequestId, FinishedRequest>& finished() const { return finished_; }
  int64_t preemptions() const { return preemptions_; }
  int64_t steps() const { return steps_; }
  int64_t solo_steps() const { return solo_steps_; }

 private:
  void Record(const FinishedRequest& f) {
    EXPECT_TRUE(finished_.emplace(f.id, f).second) << "request " << f.id << " finished twice";
    live_.erase(f.id);
  }

  SchedulerConfig config_;
  FakeClock clock_;
  BatchScheduler sched_;
  FakeExecutor exec_;
  std::set<RequestId> live_;
  std::map<RequestId, FinishedRequest> finished_;
  int64_t preemptions_ = 0;
  int64_t steps_ = 0;
  int64_t solo_steps_ = 0;
};

SchedulerConfig Config(int32_t budget, int32_t max_seqs, int32_t block_size, bool chunked = true) {
  SchedulerConfig c;
  c.token_budget = budget;
  c.max_num_seqs = max_seqs;
  c.block_size = block_size;
  c.chunked_prefill = chunked;
  return c;
}

TEST(BatchSchedulerTest, RejectsBadRequestsAndConfigs) {
  FakeClock clock;
  BatchScheduler sched(Config(16, 4, 4), 8, &clock);
  EXPECT_TRUE(sched.Add(MakeRequest(1, {}, 4)).IsInvalidArgument());
  EXPECT_TRUE(sched.Add(MakeRequest(1, {5}, 0)).IsInvalidArgument());
  Request replay = MakeRequest(1, {5}, 2);
  replay.generated = {6, 7};
  EXPECT_TRUE(sched.Add(replay).IsInvalidArgument());
  EXPECT_TRUE(sched.Add(MakeRequest(1, {5}, 2)).ok());
  EXPECT_TRUE(sched.Add(MakeRequest(1, {5}, 2)).IsInvalidArgument());  // duplicate id
  EXPECT_TRUE(ValidateSchedulerConfig(Config(16, 4, 4)).ok());
  EXPECT_TRUE(ValidateSchedulerConfig(Config(0, 4, 4)).IsInvalidArgument());
  EXPECT_TRUE(ValidateSchedulerConfig(Config(16, 0, 4)).IsInvalidArgument());
  EXPECT_TRUE(ValidateSchedulerConfig(Config(16, 4, 0)).IsInvalidArgument());
  SchedulerConfig negative_idle = Config(16, 4, 4);
  negative_idle.idle_token_budget = -1;
  EXPECT_TRUE(ValidateSchedulerConfig(negative_idle).IsInvalidArgument());
}

TEST(BatchSchedulerTest, OneRequestMatchesTheReference) {
  Harness h(Config(64, 4, 4), 32);
  const std::vector<int32_t> prompt = LongLivedPrompt(1, 13, 20);
  h.Run({{0, MakeRequest(7, prompt, 20)}});
  ASSERT_EQ(h.finished().count(7), 1u);
  const FinishedRequest& f = h.finished().at(7);
  EXPECT_TRUE(f.status.ok());
  EXPECT_EQ(f.reason, FinishReason::kMaxTokens);
  EXPECT_EQ(f.generated, FakeExecutor::Reference(prompt, 20));
  EXPECT_EQ(h.steps(), 20);  // one prefill step, then 19 decodes
}

TEST(BatchSchedulerTest, FinishesAtEos) {
  // Find a prompt whose reference ends in EOS early.
  std::mt19937 rng(3);
  std::vector<int32_t> prompt;
  std::vector<int32_t> ref;
  do {
    prompt = RandomTokens(rng, 5);
    ref = FakeExecutor::Reference(prompt, 200);
  } while (ref.size() >= 200 || ref.back() != kEos);
  Harness h(Config(64, 4, 4), 128);
  h.Run({{0, MakeRequest(1, prompt, 200)}});
  EXPECT_EQ(h.finished().at(1).reason, FinishReason::kEos);
  EXPECT_EQ(h.finished().at(1).generated, ref);
}

TEST(BatchSchedulerTest, LongPromptIsChunkedUnderTheBudget) {
  Harness h(Config(16, 4, 4), 64);
  const std::vector<int32_t> prompt = LongLivedPrompt(2, 100, 3);
  h.Add(MakeRequest(1, prompt, 3));
  int32_t pos = 0;
  for (int i = 0; i < 7; ++i) {
    SchedulerOutput out = h.Step();
    ASSERT_EQ(out.seqs.size(), 1u);
    EXPECT_EQ(out.seqs[0].start_pos, pos);
    EXPECT_EQ(out.seqs[0].num_tokens, std::min(16, 100 - pos));
    EXPECT_EQ(out.seqs[0].want_logits, i == 6);  // logits only when the prompt is done
    pos += out.seqs[0].num_tokens;
  }
  EXPECT_EQ(pos, 100);
  h.Run({});
  EXPECT_EQ(h.finished().at(1).generated, FakeExecutor::Reference(prompt, 3));
}

// Sarathi-Serve's stall-free property: a long prompt arriving among running decodes advances
// every step by the budget left over, and no decode misses a step.
TEST(BatchSchedulerTest, LongPromptDoesNotStallDecodes) {
  Harness h(Config(32, 8, 4), 512);
  for (RequestId id = 1; id <= 4; ++id) {
    h.Add(MakeRequest(id, LongLivedPrompt(static_cast<uint32_t>(10 + id), 6, 80), 80));
  }
  h.Step();  // all four prefill in one step
  const std::vector<int32_t> long_prompt = LongLivedPrompt(99, 500, 2);
  h.Add(MakeRequest(100, long_prompt, 2));
  int32_t prefilled = 0;
  int steps = 0;
  while (prefilled < 500) {
    SchedulerOutput out = h.Step();
    ++steps;
    ASSERT_EQ(out.seqs.size(), 5u);
    for (size_t i = 0; i < 4; ++i) EXPECT_EQ(out.seqs[i].num_tokens, 1);  // decodes first
    const ScheduledSequence& chunk = out.seqs[4];
    ASSERT_EQ(chunk.id, 100u);
    EXPECT_EQ(chunk.start_pos, prefilled);
    EXPECT_EQ(chunk.num_tokens, std::min(28, 500 - prefilled));
    EXPECT_EQ(out.num_batched_tokens, 4 + chunk.num_tokens);
    prefilled += chunk.num_tokens;
  }
  EXPECT_EQ(steps, (500 + 27) / 28);
  h.Run({});
  for (RequestId id = 1; id <= 4; ++id) {
    EXPECT_EQ(h.finished().at(id).generated,
              FakeExecutor::Reference(LongLivedPrompt(static_cast<uint32_t>(10 + id), 6, 80), 80));
  }
  EXPECT_EQ(h.finished().at(100).generated, FakeExecutor::Reference(long_prompt, 2));
}

// The budget adapts: with nothing decoding, a lone prompt runs in as few steps as the idle
// budget allows (one, here, instead of four chunks of 32).
TEST(BatchSchedulerTest, ALonePromptRunsInOneStepWhenNothingDecodes) {
  SchedulerConfig config = Config(32, 8, 16);
  config.idle_token_budget = 512;
  Harness h(config, 256);
  const std::vector<int32_t> prompt = LongLivedPrompt(7, 128, 4);
  h.Add(MakeRequest(1, prompt, 4));
  SchedulerOutput out = h.Step();
  ASSERT_EQ(out.seqs.size(), 1u);
  EXPECT_EQ(out.seqs[0].num_tokens, 128);
  EXPECT_TRUE(out.seqs[0].want_logits);
  h.Run({});
  EXPECT_EQ(h.steps(), 4);  // the prompt, then three decodes
  EXPECT_EQ(h.finished().at(1).generated, FakeExecutor::Reference(prompt, 4));
}

// ...but while sequences decode, a new prompt is chunked to token_budget, so their time per
// output token stays the step of token_budget tokens (stall-free), and the idle budget returns
// once they have finished.
TEST(BatchSchedulerTest, WhileDecodesRunAPromptIsChunkedToTheTokenBudget) {
  SchedulerConfig config = Config(32, 8, 16);
  config.idle_token_budget = 512;
  Harness h(config, 512);
  const std::vector<int32_t> short_prompt = LongLivedPrompt(8, 8, 20);
  h.Add(MakeRequest(1, short_prompt, 20));
  h.Step();  // its prompt; it decodes from now on
  const std::vector<int32_t> prompt = LongLivedPrompt(9, 128, 2);
  h.Add(MakeRequest(2, prompt, 2));
  int32_t prefilled = 0;
  while (prefilled < 128) {
    SchedulerOutput out = h.Step();
    ASSERT_EQ(out.seqs.size(), 2u);
    EXPECT_EQ(out.seqs[0].id, 1u);
    EXPECT_EQ(out.seqs[0].num_tokens, 1);
    EXPECT_EQ(out.seqs[1].num_tokens, std::min(31, 128 - prefilled));
    EXPECT_LE(out.num_batched_tokens, 32);
    prefilled += out.seqs[1].num_tokens;
  }
  h.Run({});
  const std::vector<int32_t> later = LongLivedPrompt(10, 200, 2);
  h.Add(MakeRequest(3, later, 2));
  EXPECT_EQ(h.Step().num_batched_tokens, 200);
  h.Run({});
  EXPECT_EQ(h.finished().at(1).generated, FakeExecutor::Reference(short_prompt, 20));
  EXPECT_EQ(h.finished().at(2).generated, FakeExecutor::Reference(prompt, 2));
  EXPECT_EQ(h.finished().at(3).generated, FakeExecutor::Reference(later, 2));
}

TEST(BatchSchedulerTest, WithoutChunkingAPromptWaitsForAWholeStep) {
  Harness h(Config(10, 8, 4, /*chunked=*/false), 64);
  for (RequestId id = 1; id <= 4; ++id) {
    h.Add(MakeRequest(id, LongLivedPrompt(static_cast<uint32_t>(id), 2, 5), 5));
  }
  h.Step();  // 4 x 2 prompt tokens
  const std::vector<int32_t> prompt = LongLivedPrompt(50, 8, 2);
  h.Add(MakeRequest(9, prompt, 2));
  // 4 decodes leave 6 tokens: the 8-token prompt waits until the decodes finish.
  for (int i = 0; i < 4; ++i) {
    SchedulerOutput out = h.Step();
    for (const ScheduledSequence& s : out.seqs) EXPECT_NE(s.id, 9u) << "step " << out.step;
  }
  SchedulerOutput out = h.Step();
  ASSERT_EQ(out.seqs.size(), 1u);
  EXPECT_EQ(out.seqs[0].id, 9u);
  EXPECT_EQ(out.seqs[0].num_tokens, 8);  // whole
  h.Run({});
  EXPECT_EQ(h.finished().at(9).generated, FakeExecutor::Reference(prompt, 2));

}

// Whole prompts first: a prompt longer than the whole budget is never cut; it runs alone in a step
// of its own (the decodes skip that one step), then everything carries on.
TEST(BatchSchedulerTest, WithoutChunkingAnOversizedPromptRunsAlone) {
  Harness h(Config(10, 8, 4, /*chunked=*/false), 64);
  const std::vector<int32_t> short_prompt = LongLivedPrompt(60, 3, 6);
  h.Add(MakeRequest(1, short_prompt, 6));
  SchedulerOutput first = h.Step();
  ASSERT_EQ(first.seqs.size(), 1u);
  const std::vector<int32_t> long_prompt = LongLivedPrompt(61, 25, 3);
  h.Add(MakeRequest(2, long_prompt, 3));
  h.Add(MakeRequest(3, LongLivedPrompt(62, 2, 2), 2));  // queued behind the long one

  SchedulerOutput solo = h.Step();
  ASSERT_EQ(solo.seqs.size(), 1u);
  EXPECT_EQ(solo.seqs[0].id, 2u);
  EXPECT_EQ(solo.seqs[0].start_pos, 0);
  EXPECT_EQ(solo.seqs[0].num_tokens, 25);  // whole, over the budget of 10
  EXPECT_TRUE(solo.seqs[0].want_logits);
  EXPECT_EQ(h.solo_steps(), 1);

  SchedulerOutput next = h.Step();  // back to normal: both decodes, then the short prompt
  std::set<RequestId> ids;
  for (const ScheduledSequence& s : next.seqs) ids.insert(s.id);
  EXPECT_EQ(ids, (std::set<RequestId>{1, 2, 3}));
  EXPECT_LE(next.num_batched_tokens, 10);

  h.Run({});
  EXPECT_EQ(h.solo_steps(), 1);
  for (RequestId id : {1u, 2u, 3u}) EXPECT_TRUE(h.finished().at(id).status.ok()) << id;
  EXPECT_EQ(h.finished().at(1).generated, FakeExecutor::Reference(short_prompt, 6));
  EXPECT_EQ(h.finished().at(2).generated, FakeExecutor::Reference(long_prompt, 3));

  // With chunking on, the same prompt goes in chunks of at most the budget.
  Harness c(Config(10, 8, 4, /*chunked=*/true), 64);
  c.Run({{0, MakeRequest(2, long_prompt, 3)}});
  EXPECT_EQ(c.solo_steps(), 0);
  EXPECT_EQ(c.steps(), 3 + 2);  // 10 + 10 + 5 prompt tokens, then two decodes
  EXPECT_EQ(c.finished().at(2).generated, FakeExecutor::Reference(long_prompt, 3));
}

TEST(BatchSchedulerTest, PrefixCacheReusesBlocksAndGivesTheSameOutput) {
  Harness h(Config(64, 4, 4), 64);
  const std::vector<int32_t> prompt = LongLivedPrompt(5, 18, 6);
  h.Add(MakeRequest(1, prompt, 6));
  SchedulerOutput first = h.Step();
  ASSERT_EQ(first.seqs.size(), 1u);
  EXPECT_EQ(first.seqs[0].num_cached_tokens, 0);
  const std::vector<int32_t> a_blocks = first.seqs[0].block_table;
  h.Run({});

  // Same prompt: the 4 full blocks of its first 17 tokens hit.
  h.Add(MakeRequest(2, prompt, 6));
  SchedulerOutput second = h.Step();
  ASSERT_EQ(second.seqs.size(), 1u);
  EXPECT_EQ(second.seqs[0].num_cached_tokens, 16);
  EXPECT_EQ(second.seqs[0].start_pos, 16);
  EXPECT_EQ(second.seqs[0].num_tokens, 2);
  EXPECT_TRUE(std::equal(a_blocks.begin(), a_blocks.begin() + 4, second.seqs[0].block_table.begin()));
  h.Run({});
  EXPECT_EQ(h.finished().at(2).generated, h.finished().at(1).generated);
  EXPECT_EQ(h.finished().at(1).generated, FakeExecutor::Reference(prompt, 6));

  // A prompt of exactly 4 blocks reuses only 3: its last token must be computed, and cached
  // blocks are never written.
  std::vector<int32_t> four_blocks(prompt.begin(), prompt.begin() + 16);
  h.Add(MakeRequest(3, four_blocks, 3));
  SchedulerOutput third = h.Step();
  EXPECT_EQ(third.seqs[0].num_cached_tokens, 12);
  EXPECT_EQ(third.seqs[0].num_tokens, 4);
  h.Run({});
  EXPECT_EQ(h.finished().at(3).generated, FakeExecutor::Reference(four_blocks, 3));

  // Generated tokens are cached too: a follow-up turn (prompt + answer + more) hits past the
  // original prompt.
  std::vector<int32_t> follow_up = prompt;
  const std::vector<int32_t>& answer = h.finished().at(1).generated;
  follow_up.insert(follow_up.end(), answer.begin(), answer.end());
  follow_up.push_back(42);
  h.Add(MakeRequest(4, follow_up, 4));
  SchedulerOutput fourth = h.Step();
  EXPECT_EQ(fourth.seqs[0].num_cached_tokens, 20);  // 18 + 5 computed answer tokens -> 5 blocks
  h.Run({});
  EXPECT_EQ(h.finished().at(4).generated, FakeExecutor::Reference(follow_up, 4));
  EXPECT_GT(h.sched().block_pool().stats().num_hit_blocks, 0);
}

// A request whose next block a running prefill is computing waits for it instead of computing
// it again, and then takes it from the cache.
TEST(BatchSchedulerTest, ARequestWaitsForTheBlockARunningPrefillIsComputing) {
  Harness h(Config(16, 4, 4), 64);
  const std::vector<int32_t> prompt = LongLivedPrompt(8, 24, 4);
  h.Add(MakeRequest(1, prompt, 4));
  h.Step();  // request 1 computes blocks 0-3 and is still to compute blocks 4-5
  h.Add(MakeRequest(2, prompt, 4));
  SchedulerOutput out = h.Step();  // request 1 computes tokens 16-23; request 2 waits
  ASSERT_EQ(out.seqs.size(), 1u);
  EXPECT_EQ(out.seqs[0].id, 1u);
  EXPECT_EQ(h.sched().num_waiting(), 1);
  out = h.Step();
  const ScheduledSequence* second = nullptr;
  for (const ScheduledSequence& s : out.seqs) second = s.id == 2 ? &s : second;
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->num_cached_tokens, 20);  // the 5 full blocks of its first 23 tokens
  EXPECT_EQ(second->num_tokens, 4);
  h.Run({});
  EXPECT_EQ(h.finished().at(1).generated, h.finished().at(2).generated);
  EXPECT_EQ(h.sched().num_promised_blocks(), 0);
}

// A request that pools every position (an embedding) takes nothing from the prefix cache and
// never waits for a block another sequence is computing; the blocks it computes still serve
// the requests after it.
TEST(BatchSchedulerTest, WithoutThePrefixCacheEveryPositionIsComputed) {
  Harness h(Config(16, 4, 4), 64);
  const std::vector<int32_t> prompt = LongLivedPrompt(9, 24, 4);
  h.Add(MakeRequest(1, prompt, 4));
  h.Step();  // request 1 computes blocks 0-3 and promises blocks 4-5
  Request pooled = MakeRequest(2, prompt, 1);
  pooled.use_prefix_cache = false;
  h.Add(std::move(pooled));
  SchedulerOutput out = h.Step();  // admitted at once, from position 0, beside request 1
  const ScheduledSequence* second = nullptr;
  for (const ScheduledSequence& s : out.seqs) second = s.id == 2 ? &s : second;
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->start_pos, 0);
  EXPECT_EQ(second->num_cached_tokens, 0);
  h.Run({});
  EXPECT_EQ(h.finished().at(2).generated.size(), 1u);

  // Again once everything is cached: still no hit.
  Request again = MakeRequest(3, prompt, 1);
  again.use_prefix_cache = false;
  h.Add(std::move(again));
  out = h.Step();
  ASSERT_EQ(out.seqs.size(), 1u);
  EXPECT_EQ(out.seqs[0].start_pos, 0);
  EXPECT_EQ(out.seqs[0].num_cached_tokens, 0);
  h.Run({});
  // A normal request after it hits the blocks the others computed.
  h.Add(MakeRequest(4, prompt, 4));
  out = h.Step();
  EXPECT_EQ(out.seqs[0].num_cached_tokens, 20);
  h.Run({});
  EXPECT_EQ(h.finished().at(4).generated, h.finished().at(1).generated);
}

// Choices of one prompt sent together (n > 1): the prompt is computed once, and a request
// behind the deferred ones, with a prompt of its own, is not held up by them.
TEST(BatchSchedulerTest, IdenticalPromptsSentTogetherComputeThePromptOnce) {
  Harness h(Config(16, 8, 4), 128);
  const std::vector<int32_t> prompt = LongLivedPrompt(9, 40, 3);
  const std::vector<int32_t> other = LongLivedPrompt(10, 8, 3);
  for (RequestId id = 1; id <= 3; ++id) h.Add(MakeRequest(id, prompt, 3));
  h.Add(MakeRequest(4, other, 3));
  int64_t prompt_tokens_run = 0;
  bool other_ran_early = false;
  for (int i = 0; i < 3; ++i) {  // request 1 is still prefilling (40 tokens at 16 a step)
    for (const ScheduledSequence& s : h.Step().seqs) {
      if (s.id == 4) other_ran_early = true;
      if (s.id != 4) prompt_tokens_run += s.num_tokens;
    }
  }
  EXPECT_TRUE(other_ran_early) << "the unrelated request waited behind the deferred ones";
  while (h.sched().has_unfinished()) {
    for (const ScheduledSequence& s : h.Step().seqs) {
      if (s.id != 4 && s.start_pos < 40) prompt_tokens_run += std::min(s.num_tokens, 40 - s.start_pos);
    }
  }
  // 40 prompt tokens once, then 40 - 36 = 4 for each later choice (its last token and the
  // partial block after the 9 cached full blocks of its first 39 tokens).
  EXPECT_EQ(prompt_tokens_run, 40 + 2 * 4);
  // Each admission's lookup counts once, however often a deferred one looked: 9 full blocks of
  // 39 tokens for each choice (the later two hit all 9), 1 block of 7 for request 4.
  EXPECT_GT(h.sched().num_deferred_admissions(), 0);
  EXPECT_EQ(h.sched().block_pool().stats().num_queries, 4);
  EXPECT_EQ(h.sched().block_pool().stats().num_query_blocks, 3 * 9 + 1);
  EXPECT_EQ(h.sched().block_pool().stats().num_hit_blocks, 2 * 9);
  for (RequestId id = 1; id <= 3; ++id) EXPECT_EQ(h.finished().at(id).generated, FakeExecutor::Reference(prompt, 3));
  EXPECT_EQ(h.finished().at(4).generated, FakeExecutor::Reference(other, 3));
  EXPECT_EQ(h.sched().num_promised_blocks(), 0);
}

std::vector<Arrival> PressureWorkload(uint32_t seed, int32_t n) {
  std::mt19937 rng(seed);
  std::vector<Arrival> arrivals;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t len = 10 + static_cast<int32_t>(rng() % 11);
    arrivals.push_back(
        {static_cast<int64_t>(rng() % 4),
         MakeRequest(static_cast<RequestId>(i + 1), RandomTokens(rng, len), 30, static_cast<int32_t>(rng() % 2))});
  }
  return arrivals;
}

TEST(BatchSchedulerTest, TinyPoolPreemptsAndStillMatchesABigPool) {
  const std::vector<Arrival> work = PressureWorkload(11, 8);
  Harness big(Config(16, 4, 4), 1024);
  big.Run(work);
  EXPECT_EQ(big.preemptions(), 0);
  Harness tiny(Config(16, 4, 4), 13);  // one 50-token request fits; four do not
  tiny.Run(work);
  EXPECT_GT(tiny.preemptions(), 0);
  ASSERT_EQ(tiny.finished().size(), work.size());
  for (const Arrival& a : work) {
    const FinishedRequest& f = tiny.finished().at(a.request.id);
    EXPECT_TRUE(f.status.ok()) << f.status.ToString();
    EXPECT_EQ(f.generated, big.finished().at(a.request.id).generated) << "request " << f.id;
    EXPECT_EQ(f.generated, FakeExecutor::Reference(a.request.prompt, 30));
  }
}

TEST(BatchSchedulerTest, PreemptsTheLeastImportantSequence) {
  // Each request needs up to 7 blocks of 2 tokens; the pool has 7, so they cannot both finish.
  Harness h(Config(16, 4, 2), 7);
  const std::vector<int32_t> p_low = LongLivedPrompt(21, 4, 10);
  const std::vector<int32_t> p_high = LongLivedPrompt(22, 4, 10);
  h.Add(MakeRequest(1, p_low, 10, /*priority=*/1));  // arrives first
  h.Add(MakeRequest(2, p_high, 10, /*priority=*/0));
  SchedulerOutput out = h.Step();
  ASSERT_EQ(out.seqs.size(), 2u);
  EXPECT_EQ(out.seqs[0].id, 2u);  // most important first
  do {
    out = h.Step();
  } while (out.preempted.empty() && h.sched().has_unfinished());
  EXPECT_EQ(out.preempted, std::vector<RequestId>{1});
  ASSERT_EQ(out.seqs.size(), 1u);
  EXPECT_EQ(out.seqs[0].id, 2u);
  const Sequence* low = h.sched().Find(1);
  ASSERT_NE(low, nullptr);
  EXPECT_EQ(low->status, SequenceStatus::kPreempted);
  EXPECT_EQ(low->num_computed_tokens, 0);
  EXPECT_TRUE(low->block_table.empty());
  EXPECT_GE(low->num_generated(), 1);  // kept, and recomputed as part of its prefix
  h.Run({});
  EXPECT_EQ(h.finished().at(1).generated, FakeExecutor::Reference(p_low, 10));
  EXPECT_EQ(h.finished().at(2).generated, FakeExecutor::Reference(p_high, 10));
  EXPECT_GE(h.finished().at(1).num_preemptions, 1);
  EXPECT_EQ(h.finished().at(2).num_preemptions, 0);
}

TEST(BatchSchedulerTest, ADecodePreemptsALessImportantPrefillBeforeItself) {
  // 8 blocks of 2 tokens. Request 1 (important) decodes while request 2 prefills in chunks and
  // takes the rest of the pool; when 1 needs a block, 2 is the one to go.
  Harness h(Config(5, 4, 2), 8);
  const std::vector<int32_t> p1 = LongLivedPrompt(71, 3, 12);
  const std::vector<int32_t> p2 = LongLivedPrompt(72, 12, 2);
  h.Add(MakeRequest(1, p1, 12, /*priority=*/0));
  h.Step();
  h.Add(MakeRequest(2, p2, 2, /*priority=*/1));
  SchedulerOutput out;
  do {
    out = h.Step();
  } while (out.preempted.empty() && h.sched().has_unfinished());
  EXPECT_EQ(out.preempted, std::vector<RequestId>{2});
  ASSERT_FALSE(out.seqs.empty());
  EXPECT_EQ(out.seqs[0].id, 1u);
  EXPECT_EQ(out.seqs[0].num_tokens, 1);
  h.Run({});
  EXPECT_EQ(h.finished().at(1).num_preemptions, 0);
  EXPECT_EQ(h.finished().at(1).generated, FakeExecutor::Reference(p1, 12));
  EXPECT_EQ(h.finished().at(2).generated, FakeExecutor::Reference(p2, 2));
}

TEST(BatchSchedulerTest, AdmitsByPriorityThenArrival) {
  Harness h(Config(64, 1, 4), 64);
  h.Add(MakeRequest(1, {5, 6}, 1, 2));
  h.Add(MakeRequest(2, {5, 7}, 1, 1));
  h.Add(MakeRequest(3, {5, 8}, 1, 1));
  h.Add(MakeRequest(4, {5, 9}, 1, 0));
  std::vector<RequestId> order;
  while (h.sched().has_unfinished()) {
    for (const ScheduledSequence& s : h.Step().seqs) order.push_back(s.id);
  }
  EXPECT_EQ(order, (std::vector<RequestId>{4, 2, 3, 1}));
}

TEST(BatchSchedulerTest, RequestsThatCannotFitTheWholePoolFail) {
  Harness h(Config(64, 4, 4), 4);  // 16 tokens in all
  std::mt19937 rng(4);
  const std::vector<int32_t> grows = LongLivedPrompt(31, 10, 20);
  h.Run({{0, MakeRequest(1, RandomTokens(rng, 17), 4)},
         {0, MakeRequest(2, grows, 20)},
         {0, MakeRequest(3, LongLivedPrompt(32, 3, 4), 4)}});
  const FinishedRequest& too_long = h.finished().at(1);
  EXPECT_EQ(too_long.status.code(), Status::Code::kResourceExhausted);
  EXPECT_NE(too_long.status.message().find("KV blocks"), std::string::npos);
  // Request 2 fits at first and fails when its 17th token needs a fifth block.
  const FinishedRequest& outgrew = h.finished().at(2);
  EXPECT_EQ(outgrew.status.code(), Status::Code::kResourceExhausted);
  const std::vector<int32_t> ref = FakeExecutor::Reference(grows, 20);
  EXPECT_EQ(outgrew.generated, std::vector<int32_t>(ref.begin(), ref.begin() + 7));
  EXPECT_TRUE(h.finished().at(3).status.ok());
}

TEST(BatchSchedulerTest, AbortFreesBlocks) {
  Harness h(Config(64, 4, 4), 32);
  h.Add(MakeRequest(1, LongLivedPrompt(41, 9, 20), 20));
  h.Add(MakeRequest(2, LongLivedPrompt(42, 9, 20), 20));
  h.Add(MakeRequest(3, LongLivedPrompt(43, 9, 20), 20));
  h.Step();
  const int32_t free_before = h.sched().block_pool().num_free();
  EXPECT_TRUE(h.sched().Abort(1));  // running
  EXPECT_EQ(h.sched().block_pool().num_free(), free_before + 3);
  EXPECT_FALSE(h.sched().Abort(1));
  EXPECT_FALSE(h.sched().Find(1));

  // Aborted while its step is in flight: its sampled token is dropped.
  SchedulerOutput out = h.sched().Schedule();
  ASSERT_EQ(out.seqs.size(), 2u);
  EXPECT_TRUE(h.sched().Abort(2));
  StepResult result = h.exec().Execute(out);
  EXPECT_TRUE(h.sched().OnStepDone(result).empty());
  EXPECT_EQ(h.sched().Find(3)->num_generated(), 2);

  h.Add(MakeRequest(4, {1, 2, 3}, 5));  // waiting
  EXPECT_TRUE(h.sched().Abort(4));
  EXPECT_TRUE(h.sched().Abort(3));
  EXPECT_FALSE(h.sched().has_unfinished());
  EXPECT_EQ(h.sched().block_pool().num_free(), 32);
  EXPECT_TRUE(h.sched().Schedule().seqs.empty());
}

TEST(BatchSchedulerTest, StopFlagAndReplayedTokens) {
  Harness h(Config(64, 4, 4), 32);
  const std::vector<int32_t> prompt = LongLivedPrompt(51, 7, 12);
  const std::vector<int32_t> ref = FakeExecutor::Reference(prompt, 12);
  // Recovery: prompt + the 5 committed tokens are the prefix; generation goes on identically.
  Request replay = MakeRequest(1, prompt, 12);
  replay.generated.assign(ref.begin(), ref.begin() + 5);
  h.Add(replay);
  SchedulerOutput out = h.Step();
  EXPECT_EQ(out.seqs[0].num_tokens, 12);
  h.Run({});
  EXPECT_EQ(h.finished().at(1).generated, ref);

  // A caller-side stop (a stop string) ends the request at once.
  h.Add(MakeRequest(2, prompt, 12));
  out = h.sched().Schedule();
  StepResult result = h.exec().Execute(out);
  result.sampled[0].stop = true;
  std::vector<FinishedRequest> done = h.sched().OnStepDone(result);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].reason, FinishReason::kStop);
  EXPECT_EQ(done[0].generated, std::vector<int32_t>{ref[0]});
}

TEST(BatchSchedulerTest, TimingsFollowTheInjectedClock) {
  FakeClock clock(1'000'000);
  const SchedulerConfig config = Config(64, 4, 4);
  BatchScheduler sched(config, 32, &clock);
  FakeExecutor exec(32, 4);
  const std::vector<int32_t> prompt = LongLivedPrompt(61, 5, 4);
  ASSERT_TRUE(sched.Add(MakeRequest(1, prompt, 4)).ok());
  clock.Advance(5'000);  // queued for 5 us
  std::vector<FinishedRequest> done;
  while (done.empty()) {
    StepResult r = exec.Execute(sched.Schedule());
    clock.Advance(1'000);  // each step takes 1 us
    done = sched.OnStepDone(r);
    if (done.empty()) {
      const Sequence* s = sched.Find(1);
      EXPECT_EQ(ComputeTimings(s->times).end_to_end_ns, -1);
    }
  }
  const RequestTimings& t = done[0].timings;
  EXPECT_EQ(t.queue_ns, 5'000);
  EXPECT_EQ(t.time_to_first_token_ns, 6'000);
  EXPECT_EQ(t.time_per_output_token_ns, 1'000);
  EXPECT_EQ(t.end_to_end_ns, 9'000);
}

TEST(BatchSchedulerDeathTest, ScheduleTwiceWithoutResultsAborts) {
  FakeClock clock;
  BatchScheduler sched(Config(64, 4, 4), 32, &clock);
  ASSERT_TRUE(sched.Add(MakeRequest(1, {1, 2, 3}, 4)).ok());
  sched.Schedule();
  EXPECT_DEATH(sched.Schedule(), "OnStepDone");
}

// Random arrival times, lengths, shared prefixes, priorities, configs and pool sizes: every
// request finishes with exactly the unconstrained reference output, and the per-step invariants
// (in Harness::Step and the scheduler's own CHECKs) hold throughout.
TEST(BatchSchedulerTest, RandomizedWorkloadsMatchTheReference) {
  int64_t total_preemptions = 0;
  int64_t total_hits = 0;
  int64_t total_solo = 0;
  int64_t total_deferred = 0;
  for (uint32_t iter = 0; iter < 300; ++iter) {
    std::mt19937 rng(1000 + iter);
    SchedulerConfig config = Config(1 + static_cast<int32_t>(rng() % 48), 1 + static_cast<int32_t>(rng() % 6),
                                    1 + static_cast<int32_t>(rng() % 8), rng() % 4 != 0);
    std::mt19937 idle_rng(5000 + iter);  // apart, so the workloads stay those drawn before
    if (idle_rng() % 2 == 0) config.idle_token_budget = config.token_budget + static_cast<int32_t>(idle_rng() % 64);
    std::vector<std::vector<int32_t>> stems;
    for (int i = 0; i < 3; ++i) stems.push_back(RandomTokens(rng, static_cast<int32_t>(rng() % 40)));
    const int32_t num_requests = 1 + static_cast<int32_t>(rng() % 12);
    std::vector<Arrival> arrivals;
    int32_t longest = 0;
    for (int32_t i = 0; i < num_requests; ++i) {
      std::vector<int32_t> prompt = stems[rng() % stems.size()];
      std::vector<int32_t> tail = RandomTokens(rng, static_cast<int32_t>(rng() % 20) + (prompt.empty() ? 1 : 0));
      prompt.insert(prompt.end(), tail.begin(), tail.end());
      const int32_t max_tokens = 1 + static_cast<int32_t>(rng() % 24);
      longest = std::max(longest, static_cast<int32_t>(prompt.size()) + max_tokens);
      arrivals.push_back({static_cast<int64_t>(rng() % 30), MakeRequest(static_cast<RequestId>(i + 1), prompt,
                                                                        max_tokens, static_cast<int32_t>(rng() % 3))});
    }
    // Nothing may legitimately fail: the pool holds the longest request (and without chunking a
    // whole (re)computation over the budget runs alone).
    const int32_t min_blocks = (longest + config.block_size - 1) / config.block_size;
    const int32_t num_blocks = min_blocks + static_cast<int32_t>(rng() % (2 * min_blocks + 1));

    SCOPED_TRACE("iteration " + std::to_string(iter));
    Harness h(config, num_blocks);
    h.Run(arrivals);
    ASSERT_EQ(h.finished().size(), arrivals.size());
    for (const Arrival& a : arrivals) {
      const FinishedRequest& f = h.finished().at(a.request.id);
      ASSERT_TRUE(f.status.ok()) << f.status.ToString();
      ASSERT_EQ(f.generated, FakeExecutor::Reference(a.request.prompt, a.request.max_tokens)) << "request " << f.id;
    }
    total_preemptions += h.preemptions();
    total_hits += h.sched().block_pool().stats().num_hit_blocks;
    total_solo += h.solo_steps();
    total_deferred += h.sched().num_deferred_admissions();
  }
  // The workload must actually exercise preemption and the prefix cache.
  EXPECT_GT(total_preemptions, 50);
  EXPECT_GT(total_hits, 100);
  EXPECT_GT(total_solo, 10);  // unchunked prompts over the budget running alone
  EXPECT_GT(total_deferred, 10) << "shared prefixes sent together must wait for each other";
}


// A request moves to another scheduler with the KV of its full blocks (a node handing it over):
// the blocks are imported into the new pool's prefix cache, the request is added there with its
// generated tokens, and it continues with only its last partial block recomputed, giving the
// reference output.
TEST(BatchSchedulerTest, ImportedBlocksServeAMovedRequestAsItsOwnCacheWould) {
  const SchedulerConfig config = Config(64, 8, 4);
  const std::vector<int32_t> prompt = LongLivedPrompt(11, 37, 30);
  Harness from(config, 64);
  from.Add(MakeRequest(1, prompt, 30));
  while (from.sched().Find(1)->num_generated() < 10) from.Step();
  const Sequence& seq = *from.sched().Find(1);
  const int32_t full = seq.num_hashed_blocks;
  ASSERT_GE(full, 11);
  const std::vector<int32_t> tokens(seq.tokens.begin(), seq.tokens.begin() + full * 4);

  Harness to(config, 64);
  const PrefixImport import = to.sched().BeginPrefixImport(tokens, 1000);
  EXPECT_TRUE(import.held.empty());
  ASSERT_EQ(static_cast<int32_t>(import.fresh.size()), full);
  for (int32_t j = 0; j < full; ++j) {
    to.exec().WriteBlock(import.fresh[static_cast<size_t>(j)], from.exec().ReadBlock(seq.block_table[static_cast<size_t>(j)]));
  }
  to.sched().EndPrefixImport(import, tokens, true);
  to.sched().block_pool().CheckConsistency();
  EXPECT_EQ(to.sched().block_pool().num_free(), 64) << "imported blocks wait on the free list";
  EXPECT_EQ(to.sched().block_pool().num_cached(), full);

  Request moved = MakeRequest(1, prompt, 30);
  moved.generated.assign(seq.tokens.begin() + static_cast<std::ptrdiff_t>(prompt.size()), seq.tokens.end());
  const int32_t total = static_cast<int32_t>(seq.tokens.size());
  to.Add(std::move(moved));
  const SchedulerOutput first = to.Step();
  ASSERT_EQ(first.seqs.size(), 1u);
  EXPECT_EQ(first.seqs[0].num_cached_tokens, full * 4);
  EXPECT_EQ(first.seqs[0].num_tokens, total - full * 4) << "only the tokens after the imported blocks run";
  while (to.sched().has_unfinished()) to.Step();
  ASSERT_EQ(to.finished().count(1), 1u);
  EXPECT_EQ(to.finished().at(1).generated, FakeExecutor::Reference(prompt, 30));
}

// An import in two parts chains: the second finds the first's blocks and continues after them.
// One whose bytes were not written leaves nothing findable. The pool's free blocks bound it.
TEST(BatchSchedulerTest, PrefixImportsChainAndAreBoundedAndCanBeUndone) {
  const SchedulerConfig config = Config(64, 8, 4);
  std::mt19937 rng(5);
  const std::vector<int32_t> tokens = RandomTokens(rng, 4 * 10 + 3);  // 10 full blocks and a partial one
  Harness h(config, 16);
  const PrefixImport part = h.sched().BeginPrefixImport(tokens, 4);
  ASSERT_EQ(part.fresh.size(), 4u);
  h.sched().EndPrefixImport(part, tokens, true);
  const PrefixImport rest = h.sched().BeginPrefixImport(tokens, 1000);
  EXPECT_EQ(rest.held.size(), 4u);
  EXPECT_EQ(rest.first_fresh, 4);
  EXPECT_EQ(rest.fresh.size(), 6u) << "the partial last block is not imported";
  h.sched().EndPrefixImport(rest, tokens, true);
  EXPECT_EQ(h.sched().block_pool().num_cached(), 10);
  h.sched().block_pool().CheckConsistency();

  Harness undone(config, 16);
  const PrefixImport dropped = undone.sched().BeginPrefixImport(tokens, 1000);
  undone.sched().EndPrefixImport(dropped, tokens, false);
  EXPECT_EQ(undone.sched().block_pool().num_cached(), 0);
  EXPECT_EQ(undone.sched().block_pool().num_free(), 16);
  EXPECT_TRUE(undone.sched().BeginPrefixImport(tokens, 0).held.empty()) << "an unwritten import is not findable";

  Harness small(config, 6);
  const PrefixImport bounded = small.sched().BeginPrefixImport(tokens, 1000);
  EXPECT_EQ(bounded.fresh.size(), 6u) << "no more blocks than the pool has free";
  small.sched().EndPrefixImport(bounded, tokens, true);
  small.sched().block_pool().CheckConsistency();
}

}  // namespace
}  // namespace hearth::scheduler
