#include "gpu_worker/sampler_penalties.h"

#include <gtest/gtest.h>

#include <vector>

namespace hearth {
namespace {

std::vector<float> Penalize(std::vector<float> logits, const SamplingParams& params,
                            const std::vector<int32_t>& prompt,
                            const std::vector<int32_t>& generated, PenaltyScratch& scratch) {
  ApplyPenalties(logits, params, prompt, generated, scratch);
  return logits;
}

TEST(PenaltiesTest, DefaultsChangeNothing) {
  PenaltyScratch scratch;
  const std::vector<float> logits = {2, -2, 1, 3};
  EXPECT_EQ(Penalize(logits, SamplingParams(), {0, 1}, {2, 3}, scratch), logits);
}

TEST(PenaltiesTest, RepetitionDividesPositiveMultipliesNegativeOncePerToken) {
  PenaltyScratch scratch;
  SamplingParams p;
  p.repetition_penalty = 2;
  // Token 1 appears in the prompt and twice in the output: penalized once. Token 3 unseen.
  const std::vector<float> out = Penalize({2, -2, 1, 3}, p, {0, 1}, {1, 1, 2}, scratch);
  EXPECT_EQ(out, (std::vector<float>{1, -4, 0.5f, 3}));
}

TEST(PenaltiesTest, RepetitionBelowOneRewards) {
  PenaltyScratch scratch;
  SamplingParams p;
  p.repetition_penalty = 0.5f;
  EXPECT_EQ(Penalize({2, -2, 0}, p, {0, 1, 2}, {}, scratch), (std::vector<float>{4, -1, 0}));
}

TEST(PenaltiesTest, FrequencyAndPresenceCountGeneratedTokensOnly) {
  PenaltyScratch scratch;
  SamplingParams p;
  p.frequency_penalty = 0.5f;
  p.presence_penalty = 1.0f;
  // Token 2 twice: 2 * 0.5 + 1 = 2. Token 3 once: 1.5. Token 0 only in the prompt: untouched.
  const std::vector<float> out = Penalize({5, 5, 5, 5}, p, {0, 0, 0}, {2, 3, 2}, scratch);
  EXPECT_EQ(out, (std::vector<float>{5, 5, 3, 3.5f}));
}

TEST(PenaltiesTest, NegativeFrequencyAndPresenceEncourage) {
  PenaltyScratch scratch;
  SamplingParams p;
  p.frequency_penalty = -1;
  p.presence_penalty = -0.5f;
  EXPECT_EQ(Penalize({0, 0}, p, {}, {1, 1, 1}, scratch), (std::vector<float>{0, 3.5f}));
}

TEST(PenaltiesTest, RepetitionThenFrequency) {
  PenaltyScratch scratch;
  SamplingParams p;
  p.repetition_penalty = 2;
  p.frequency_penalty = 1;
  // (4 / 2) - 1 * 1 = 1, not (4 - 1) / 2.
  EXPECT_EQ(Penalize({4}, p, {}, {0}, scratch), (std::vector<float>{1}));
}

TEST(PenaltiesTest, ScratchIsReusableAcrossCallsAndVocabSizes) {
  PenaltyScratch scratch;
  SamplingParams p;
  p.repetition_penalty = 2;
  p.frequency_penalty = 1;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Penalize({4, 4, 4}, p, {0}, {1, 1}, scratch), (std::vector<float>{2, 0, 4}));
    for (int32_t c : scratch.counts) EXPECT_EQ(c, 0);
  }
  EXPECT_EQ(Penalize({4, 4, 4, 4, 4}, p, {4}, {}, scratch), (std::vector<float>{4, 4, 4, 4, 2}));
}

TEST(PenaltiesTest, EpochWrapAroundStillPenalizesOnce) {
  PenaltyScratch scratch;
  SamplingParams p;
  p.repetition_penalty = 2;
  Penalize({1, 1}, p, {0}, {}, scratch);
  scratch.epoch = 0xFFFFFFFFu;  // the next call wraps
  EXPECT_EQ(Penalize({4, 4}, p, {1, 1}, {1}, scratch), (std::vector<float>{4, 2}));
}

TEST(PenaltiesDeathTest, TokenOutsideVocabIsABrokenInvariant) {
  PenaltyScratch scratch;
  SamplingParams p;
  std::vector<float> logits = {0, 0};
  const std::vector<int32_t> bad = {2};
  EXPECT_DEATH(ApplyPenalties(logits, p, bad, {}, scratch), "outside vocab");
}

}  // namespace
}  // namespace hearth
