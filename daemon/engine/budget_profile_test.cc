#include "daemon/engine/budget_profile.h"

#include <gtest/gtest.h>

namespace hearth::daemon {
namespace {

BudgetProfileOptions Opts(double target, int32_t floor = 64, int32_t ceiling = 2048) {
  BudgetProfileOptions o;
  o.target_step_ms = target;
  o.floor = floor;
  o.ceiling = ceiling;
  return o;
}

TEST(ChooseTokenBudgetTest, LargestSizeUnderTheTarget) {
  std::vector<BudgetSample> s = {{64, 20}, {128, 45}, {256, 90}, {512, 180}};
  EXPECT_EQ(ChooseTokenBudget(s, Opts(100)), 256);
  EXPECT_EQ(ChooseTokenBudget(s, Opts(90)), 256);  // at the target counts
  EXPECT_EQ(ChooseTokenBudget(s, Opts(50)), 128);
  EXPECT_EQ(ChooseTokenBudget(s, Opts(200)), 568);  // none over the target: 512 * 200 / 180
}

TEST(ChooseTokenBudgetTest, ExtrapolatesWhenEverythingIsFastAndClamps) {
  std::vector<BudgetSample> s = {{64, 2}, {128, 4}, {256, 8}, {512, 16}, {1024, 32}};
  EXPECT_EQ(ChooseTokenBudget(s, Opts(64)), 2048);              // 1024 * 64 / 32
  EXPECT_EQ(ChooseTokenBudget(s, Opts(100)), 2048);             // ceiling
  EXPECT_EQ(ChooseTokenBudget(s, Opts(100, 64, 4096)), 3200);   // 1024 * 100 / 32
}

TEST(ChooseTokenBudgetTest, FloorWhenEverythingIsSlowOrThereIsNothing) {
  EXPECT_EQ(ChooseTokenBudget({{64, 500}, {128, 900}}, Opts(100)), 64);
  EXPECT_EQ(ChooseTokenBudget({{64, 500}}, Opts(100, 32)), 32);
  EXPECT_EQ(ChooseTokenBudget({}, Opts(100, 96)), 96);
  EXPECT_EQ(ChooseTokenBudget({{64, 10}}, Opts(100, 512, 256)), 512);  // floor wins over ceiling
}

// Records each step and answers with one greedy token.
class RecordingWorker : public WorkerConnection {
 public:
  StatusOr<wire::ModelInfo> LoadModel(const wire::LoadModelRequest&) override {
    return Status::Internal("not used");
  }
  StatusOr<wire::StepReply> Step(const wire::StepRequest& request) override {
    steps.push_back(request);
    if (fail) return Status::Unavailable("worker died");
    wire::StepReply reply;
    reply.sampled.push_back({request.seqs.at(0).request_id, 1, 0.0f, {}});
    return reply;
  }
  std::vector<wire::StepRequest> steps;
  bool fail = false;
};

wire::ModelInfo Info(int32_t blocks, int32_t context) {
  wire::ModelInfo info;
  info.name = "m";
  info.vocab_size = 100;
  info.context_length = context;
  info.num_kv_blocks = blocks;
  info.block_size = 16;
  return info;
}

TEST(ProfileStepsTest, TimesEachSizeWithAWellFormedDummyPrefill) {
  RecordingWorker w;
  auto samples = ProfileSteps(&w, Info(64, 8192), Opts(1e9));  // 1024 tokens fit
  ASSERT_TRUE(samples.ok()) << samples.status().ToString();
  ASSERT_EQ(samples->size(), 7u);  // 16 .. 1024
  EXPECT_EQ((*samples)[6].tokens, 1024);
  ASSERT_EQ(w.steps.size(), 1u + 7 * 3);  // warm-up + 7 sizes x 3 repeats
  for (const wire::StepRequest& r : w.steps) {
    EXPECT_EQ(r.model, "m");
    ASSERT_EQ(r.seqs.size(), 1u);
    const wire::StepSequence& s = r.seqs[0];
    EXPECT_EQ(s.start_pos, 0);
    EXPECT_TRUE(s.want_logits);
    EXPECT_EQ(s.block_table.size(), (s.tokens.size() + 15) / 16);
    for (int32_t t : s.tokens) EXPECT_TRUE(t >= 0 && t < 100);
    for (size_t b = 0; b < s.block_table.size(); ++b) EXPECT_EQ(s.block_table[b], static_cast<int32_t>(b));
  }
  EXPECT_EQ(w.steps.back().seqs[0].tokens.size(), 1024u);
}

TEST(ProfileStepsTest, SkipsSizesBeyondTheCacheOrContextAndStopsOverTheTarget) {
  RecordingWorker w;
  auto small = ProfileSteps(&w, Info(20, 8192), Opts(1e9));  // 320 tokens of cache
  ASSERT_TRUE(small.ok());
  ASSERT_EQ(small->size(), 5u);  // 16 .. 256
  EXPECT_EQ(small->back().tokens, 256);
  auto ctx = ProfileSteps(&w, Info(64, 200), Opts(1e9));
  ASSERT_TRUE(ctx.ok());
  EXPECT_EQ(ctx->size(), 4u);  // 16 .. 128

  RecordingWorker w2;
  auto stopped = ProfileSteps(&w2, Info(64, 8192), Opts(-1));  // every step is over
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->size(), 1u);
  EXPECT_EQ(w2.steps.size(), 1u + 3);
  EXPECT_EQ(ChooseTokenBudget(*stopped, Opts(-1, 16)), 16);
}

TEST(ProfileStepsTest, WorkerErrorsComeBack) {
  RecordingWorker w;
  w.fail = true;
  auto r = ProfileSteps(&w, Info(64, 8192), Opts(100));
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
}

}  // namespace
}  // namespace hearth::daemon
