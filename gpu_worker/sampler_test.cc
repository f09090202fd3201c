#include "gpu_worker/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "common/rng.h"

namespace hearth {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Reproducible pseudo-random logits in [-8, 8).
std::vector<float> RandomLogits(size_t vocab, uint64_t seed) {
  std::vector<float> logits(vocab);
  for (size_t i = 0; i < vocab; ++i) logits[i] = 16.0f * UniformFloat(seed, i) - 8.0f;
  return logits;
}

std::vector<float> LogsOf(const std::vector<double>& probs) {
  std::vector<float> logits;
  for (double p : probs) logits.push_back(static_cast<float>(std::log(p)));
  return logits;
}

std::vector<double> Softmax(const std::vector<float>& logits, double temperature) {
  const double max = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p;
  double sum = 0;
  for (float x : logits) {
    p.push_back(std::exp((x - max) / temperature));
    sum += p.back();
  }
  for (double& x : p) x /= sum;
  return p;
}

int32_t SampleAt(const std::vector<float>& logits, const SamplingParams& params, int64_t position,
                 SamplerScratch& scratch) {
  return Sample(logits, params, {}, {}, position, scratch).token;
}

std::vector<int> Histogram(const std::vector<float>& logits, const SamplingParams& params,
                           int draws) {
  SamplerScratch scratch;
  std::vector<int> counts(logits.size(), 0);
  for (int pos = 0; pos < draws; ++pos) ++counts[SampleAt(logits, params, pos, scratch)];
  return counts;
}

double ChiSquare(const std::vector<int>& counts, const std::vector<double>& probs) {
  double draws = 0;
  for (int c : counts) draws += c;
  double chi2 = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    if (probs[i] == 0) {
      EXPECT_EQ(counts[i], 0) << "token " << i << " has probability 0";
      continue;
    }
    const double expected = draws * probs[i];
    chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
  }
  return chi2;
}

SamplingParams Greedy() {
  SamplingParams p;
  p.temperature = 0;
  return p;
}

TEST(SamplerTest, GreedyIsArgmax) {
  SamplerScratch scratch;
  for (uint64_t row = 0; row < 20; ++row) {
    const std::vector<float> logits = RandomLogits(49152, row);
    const auto argmax = std::max_element(logits.begin(), logits.end()) - logits.begin();
    EXPECT_EQ(SampleAt(logits, Greedy(), static_cast<int64_t>(row), scratch), argmax);
  }
}

TEST(SamplerTest, GreedyTiesGoToTheLowestId) {
  SamplerScratch scratch;
  EXPECT_EQ(SampleAt({1, 3, 2, 3, 3}, Greedy(), 0, scratch), 1);
}

TEST(SamplerTest, TopKOneIsGreedy) {
  SamplerScratch scratch;
  SamplingParams top1;
  top1.top_k = 1;
  top1.temperature = 1.5f;
  for (uint64_t row = 0; row < 20; ++row) {
    std::vector<float> logits = RandomLogits(5000, row);
    logits[4000] = logits[17] = 9;  // a tie at the top: both must pick the lower id
    const auto pos = static_cast<int64_t>(row);
    EXPECT_EQ(SampleAt(logits, top1, pos, scratch), SampleAt(logits, Greedy(), pos, scratch));
    EXPECT_EQ(SampleAt(logits, top1, pos, scratch), 17);
  }
}

TEST(SamplerTest, DrawIsTheInverseCdfOfThePositionUniform) {
  // Two equally likely tokens: token 0 exactly when u < 0.5. Pins the mapping from the
  // (seed, position) uniform to a token, which replay on another machine relies on.
  SamplerScratch scratch;
  SamplingParams p;
  p.seed = 1234;
  for (int64_t pos = 0; pos < 200; ++pos) {
    const int32_t expected = UniformDouble(p.seed, static_cast<uint64_t>(pos)) < 0.5 ? 0 : 1;
    EXPECT_EQ(SampleAt({0.25f, 0.25f}, p, pos, scratch), expected);
  }
}

TEST(SamplerTest, SameSeedAndPositionGiveSameTokenWhateverTheCallOrder) {
  const std::vector<float> logits = RandomLogits(32000, 7);
  SamplingParams p;
  p.seed = 99;
  p.top_p = 0.9f;
  std::vector<int32_t> forward;
  SamplerScratch scratch;
  for (int64_t pos = 0; pos < 100; ++pos) forward.push_back(SampleAt(logits, p, pos, scratch));

  // Backwards, interleaved with other requests sharing the scratch, as in a changing batch.
  SamplingParams other = p;
  other.seed = 5;
  other.top_k = 40;
  const std::vector<float> other_logits = RandomLogits(32000, 8);
  for (int64_t pos = 99; pos >= 0; --pos) {
    SampleAt(other_logits, other, 1000 - pos, scratch);
    EXPECT_EQ(SampleAt(logits, p, pos, scratch), forward[pos]) << "position " << pos;
  }
  SamplerScratch fresh;
  EXPECT_EQ(SampleAt(logits, p, 42, fresh), forward[42]);

  // The seed matters.
  std::vector<int32_t> reseeded;
  p.seed = 100;
  for (int64_t pos = 0; pos < 100; ++pos) reseeded.push_back(SampleAt(logits, p, pos, scratch));
  EXPECT_NE(reseeded, forward);
}

// 7 degrees of freedom: the 99.9% quantile is 24.32. Counter-based draws make each statistic a
// fixed number, so these cannot flake; a wrong distribution lands far above.
constexpr double kChi2Df7 = 24.32;

TEST(SamplerTest, FrequenciesMatchSoftmax) {
  const std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f, 0.0f, 2.5f, -0.5f};
  for (float temperature : {1.0f, 0.6f, 1.7f}) {
    SamplingParams p;
    p.temperature = temperature;
    p.seed = 2024;
    const std::vector<int> counts = Histogram(logits, p, 40000);
    EXPECT_LT(ChiSquare(counts, Softmax(logits, temperature)), kChi2Df7) << "T=" << temperature;
  }
}

TEST(SamplerTest, WrongDistributionFailsTheChiSquare) {
  // Guards the statistic itself: temperature 1 samples checked against T = 0.6 must fail.
  const std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f, 0.0f, 2.5f, -0.5f};
  const std::vector<int> counts = Histogram(logits, SamplingParams(), 40000);
  EXPECT_GT(ChiSquare(counts, Softmax(logits, 0.6)), kChi2Df7);
}

TEST(SamplerTest, TopKRenormalizesOverTheKBest) {
  const std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f, 3.0f, 0.0f, 2.5f, -0.5f};
  SamplingParams p;
  p.top_k = 3;  // tokens 4, 6, 1
  const std::vector<int> counts = Histogram(logits, p, 30000);
  const std::vector<double> kept = Softmax({2.0f, 3.0f, 2.5f}, 1.0);
  std::vector<double> probs(8, 0.0);
  probs[1] = kept[0];
  probs[4] = kept[1];
  probs[6] = kept[2];
  EXPECT_LT(ChiSquare(counts, probs), 13.82);  // 2 dof, 99.9%
}

TEST(SamplerTest, TopPKeepsTheSmallestNucleus) {
  const std::vector<float> logits = LogsOf({0.5, 0.3, 0.15, 0.05});
  SamplingParams p;
  p.top_p = 0.75f;  // 0.5 < 0.75 <= 0.8: tokens 0 and 1
  const std::vector<int> counts = Histogram(logits, p, 5000);
  EXPECT_EQ(counts[2], 0);
  EXPECT_EQ(counts[3], 0);
  EXPECT_LT(ChiSquare(counts, {0.625, 0.375, 0, 0}), 10.83);  // 1 dof, 99.9%
}

TEST(SamplerTest, TopPWithoutTopKCutsAtTheRightToken) {
  // 300 favourites on a slope spanning many histogram buckets, in a vocabulary of 8000, with
  // ids shuffled by a stride so that id order and rank order differ.
  constexpr int kVocab = 8000;
  std::vector<float> logits(kVocab, 0.0f);
  std::vector<int> by_rank;
  for (int r = 0; r < 300; ++r) {
    by_rank.push_back((r * 2749) % kVocab);
    logits[by_rank.back()] = 10.0f - 0.01f * r;
  }
  SamplingParams p;
  p.top_p = 0.5f;
  double total = 0;
  for (float x : logits) total += std::exp(static_cast<double>(x));
  int nucleus = 0;
  for (double mass = 0; mass < 0.5 * total; ++nucleus) mass += std::exp(logits[by_rank[nucleus]]);
  ASSERT_GT(nucleus, 50);  // spans about 20 histogram buckets

  const std::vector<int> counts = Histogram(logits, p, 3000);
  std::vector<int> kept(kVocab, 0);
  for (int r = 0; r < nucleus; ++r) kept[by_rank[r]] = 1;
  int distinct = 0;
  for (int i = 0; i < kVocab; ++i) {
    if (!kept[i]) {
      ASSERT_EQ(counts[i], 0) << "token " << i << " is outside the nucleus";
    }
    distinct += counts[i] > 0;
  }
  EXPECT_GT(distinct, nucleus * 9 / 10);  // and the nucleus itself is sampled broadly
  EXPECT_GT(counts[by_rank[nucleus - 1]], 0);

  p.top_k = kVocab;  // the ranked path (a top-k that keeps everything) must agree exactly
  EXPECT_EQ(Histogram(logits, p, 3000), counts);
}

TEST(SamplerTest, TopPIsOverTheTopKSet) {
  const std::vector<float> logits = LogsOf({0.4, 0.3, 0.2, 0.1});
  SamplingParams p;
  p.top_k = 2;     // renormalized: 4/7, 3/7
  p.top_p = 0.5f;  // 4/7 >= 0.5: token 0 only
  const std::vector<int> counts = Histogram(logits, p, 500);
  EXPECT_EQ(counts[0], 500);
}

TEST(SamplerTest, MinPDropsTokensBelowTheFractionOfTheBest) {
  const std::vector<float> logits = LogsOf({0.5, 0.2, 0.04, 0.26});
  SamplingParams p;
  p.min_p = 0.1f;  // threshold 0.05: token 2 goes
  const std::vector<int> counts = Histogram(logits, p, 5000);
  EXPECT_EQ(counts[2], 0);
  EXPECT_LT(ChiSquare(counts, {0.5 / 0.96, 0.2 / 0.96, 0, 0.26 / 0.96}), 13.82);
}

TEST(SamplerTest, TopPAndMinPKeepTheIntersection) {
  const std::vector<float> logits = LogsOf({0.35, 0.3, 0.2, 0.1, 0.05});
  SamplingParams p;
  p.top_p = 0.8f;   // keeps 0, 1, 2 (0.85)
  p.min_p = 0.62f;  // keeps 0, 1 (0.3 >= 0.217; 0.2 < 0.217)
  std::vector<int> counts = Histogram(logits, p, 3000);
  EXPECT_GT(counts[0], 0);
  EXPECT_GT(counts[1], 0);
  EXPECT_EQ(counts[2] + counts[3] + counts[4], 0);
  p.min_p = 0.2f;  // keeps 0..3, so top-p decides
  counts = Histogram(logits, p, 3000);
  EXPECT_GT(counts[2], 0);
  EXPECT_EQ(counts[3] + counts[4], 0);
}

TEST(SamplerTest, PenaltiesSteerTheChoice) {
  SamplerScratch scratch;
  const std::vector<float> logits = {5.0f, 4.0f, 0.0f};
  SamplingParams p = Greedy();
  const std::vector<int32_t> generated = {0};
  EXPECT_EQ(Sample(logits, p, {}, generated, 1, scratch).token, 0);
  p.presence_penalty = 2.0f;  // 5 - 2 < 4
  EXPECT_EQ(Sample(logits, p, {}, generated, 1, scratch).token, 1);
}

TEST(SamplerTest, LogprobsAreTheModelDistributionSortedAndSumBelowOne) {
  SamplerScratch scratch;
  const std::vector<float> logits = RandomLogits(49152, 3);
  const std::vector<double> probs = Softmax(logits, 1.0);
  SamplingParams p;
  p.temperature = 0.5f;  // reported logprobs ignore temperature and truncation
  p.top_k = 5;
  p.num_logprobs = kMaxLogprobs;
  const SampleResult r = Sample(logits, p, {}, {}, 11, scratch);
  EXPECT_NEAR(r.logprob, std::log(probs[r.token]), 1e-4);

  ASSERT_EQ(r.top_logprobs().size(), static_cast<size_t>(kMaxLogprobs));
  std::vector<size_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::partial_sort(order.begin(), order.begin() + kMaxLogprobs, order.end(),
                    [&](size_t a, size_t b) { return logits[a] > logits[b]; });
  double mass = 0;
  for (int i = 0; i < kMaxLogprobs; ++i) {
    const TokenLogprob& t = r.top_logprobs()[i];
    EXPECT_EQ(t.token, static_cast<int32_t>(order[i]));
    EXPECT_NEAR(t.logprob, std::log(probs[order[i]]), 1e-4);
    if (i > 0) {
      EXPECT_GE(r.top_logprobs()[i - 1].logprob, t.logprob);
    }
    mass += std::exp(t.logprob);
  }
  EXPECT_LE(mass, 1.0);
}

TEST(SamplerTest, LogprobsOfASmallVocabSumToOne) {
  SamplerScratch scratch;
  SamplingParams p = Greedy();
  p.num_logprobs = 5;
  const SampleResult r = Sample(std::vector<float>{0.0f, 1.0f, 1.0f}, p, {}, {}, 0, scratch);
  ASSERT_EQ(r.num_top, 3);  // fewer tokens than asked for
  EXPECT_EQ(r.top[0].token, 1);
  EXPECT_EQ(r.top[1].token, 2);
  EXPECT_EQ(r.top[2].token, 0);
  EXPECT_EQ(r.top[0].logprob, r.logprob);
  double mass = 0;
  for (const TokenLogprob& t : r.top_logprobs()) mass += std::exp(t.logprob);
  EXPECT_NEAR(mass, 1.0, 1e-6);
}

TEST(SamplerTest, NaNAndInfinityAreHandled) {
  SamplerScratch scratch;
  SamplingParams p;
  p.num_logprobs = 3;
  for (int64_t pos = 0; pos < 50; ++pos) {
    // NaN never wins; -inf is never drawn.
    const SampleResult r = Sample(std::vector<float>{kNaN, 0.0f, -kInf, 0.0f, kNaN}, p, {}, {},
                                  pos, scratch);
    EXPECT_TRUE(r.token == 1 || r.token == 3) << r.token;
    EXPECT_NEAR(r.logprob, std::log(0.5), 1e-6);
    EXPECT_EQ(r.num_top, 2);
    // +inf takes all the mass.
    EXPECT_EQ(SampleAt({1.0f, kInf, 2.0f}, p, pos, scratch), 1);
  }
  EXPECT_EQ(SampleAt({kNaN, 1.0f, kNaN}, Greedy(), 0, scratch), 1);
}

TEST(SamplerTest, AllLogitsMaskedGivesTokenZeroWithMinusInfinity) {
  SamplerScratch scratch;
  for (const SamplingParams& p : {SamplingParams(), Greedy()}) {
    const SampleResult r = Sample(std::vector<float>{kNaN, -kInf, kNaN}, p, {}, {}, 0, scratch);
    EXPECT_EQ(r.token, 0);
    EXPECT_EQ(r.logprob, -kInf);
    EXPECT_EQ(r.num_top, 0);
  }
}

TEST(SamplerTest, RepetitionPenaltyBelowOneOnAHugeLogitStaysFinite) {
  SamplerScratch scratch;
  SamplingParams p;
  p.repetition_penalty = 0.5f;
  const std::vector<int32_t> prompt = {0, 1};
  const float big = std::numeric_limits<float>::max();
  const SampleResult r = Sample(std::vector<float>{big, big, 0.0f}, p, prompt, {}, 3, scratch);
  EXPECT_TRUE(r.token == 0 || r.token == 1);
  EXPECT_FALSE(std::isnan(r.logprob));
}

TEST(SamplerLogitBiasTest, MinusHundredRemovesTheGreedyChoiceAndPlusHundredForcesOne) {
  const std::vector<float> logits = RandomLogits(500, 3);
  SamplingParams p;
  p.temperature = 0;
  SamplerScratch scratch;
  const int32_t best = Sample(logits, p, {}, {}, 0, scratch).token;
  p.logit_bias = {{best, -100.0f}};
  const SampleResult banned = Sample(logits, p, {}, {}, 0, scratch);
  EXPECT_NE(banned.token, best);
  p.logit_bias = {{7, 100.0f}};
  EXPECT_EQ(Sample(logits, p, {}, {}, 0, scratch).token, 7);
  p.temperature = 1;
  for (int pos = 0; pos < 50; ++pos) EXPECT_EQ(Sample(logits, p, {}, {}, pos, scratch).token, 7) << pos;
}

TEST(SamplerLogitBiasTest, BiasIsAddedToTheLogitTheLogprobsSee) {
  const std::vector<float> logits = {0.0f, 0.0f, 0.0f, 0.0f};
  SamplingParams p;
  p.temperature = 0;
  p.num_logprobs = 4;
  p.logit_bias = {{2, std::log(3.0f)}};  // token 2 becomes three times as likely as each other
  SamplerScratch scratch;
  const SampleResult r = Sample(logits, p, {}, {}, 0, scratch);
  EXPECT_EQ(r.token, 2);
  EXPECT_NEAR(r.logprob, std::log(0.5), 1e-5);
  ASSERT_EQ(r.num_top, 4);
  EXPECT_NEAR(r.top[1].logprob, std::log(1.0 / 6), 1e-5);
}

TEST(SamplerMinTokensTest, EndTokensAreMaskedUntilMinTokensWereGenerated) {
  std::vector<float> logits(50, 0.0f);
  logits[3] = 10.0f;   // the model's end of generation, by far the likeliest
  logits[9] = 9.0f;    // a stop_token_id
  SamplingParams p;
  p.temperature = 0;
  p.min_tokens = 2;
  p.stop_token_ids = {9};
  const std::vector<int32_t> eos = {3};
  SamplerScratch scratch;
  for (int64_t generated : {0, 1}) {
    const SampleResult r = Sample(logits, p, {}, {}, 10 + generated, scratch, {eos, generated});
    EXPECT_NE(r.token, 3) << generated;
    EXPECT_NE(r.token, 9) << generated;
    EXPECT_NEAR(r.logprob, -std::log(48.0), 1e-5) << "the masked tokens carry no mass";
  }
  EXPECT_EQ(Sample(logits, p, {}, {}, 12, scratch, {eos, 2}).token, 3);
  p.min_tokens = 0;
  EXPECT_EQ(Sample(logits, p, {}, {}, 10, scratch, {eos, 0}).token, 3);
}

}  // namespace
}  // namespace hearth

namespace hearth {
namespace {

// A grammar's mask: only allowed tokens are drawn, greedy or sampled, and the logprobs are
// those of the masked distribution (the allowed tokens' probabilities sum to one).
TEST(SamplerTest, AGrammarMaskLeavesOnlyTheAllowedTokens) {
  const std::vector<float> logits = RandomLogits(200, 5);
  std::vector<uint64_t> allowed((logits.size() + 63) / 64, 0);
  const std::vector<int32_t> ids = {3, 64, 130, 199};
  for (int32_t t : ids) allowed[t / 64] |= uint64_t{1} << (t % 64);
  SamplerScratch scratch;
  SamplingParams greedy;
  greedy.temperature = 0;
  greedy.num_logprobs = 5;
  const SampleResult g = Sample(logits, greedy, {}, {}, 0, scratch, {}, allowed);
  int32_t best = ids[0];
  for (int32_t t : ids) best = logits[t] > logits[best] ? t : best;
  EXPECT_EQ(g.token, best);
  ASSERT_EQ(g.num_top, 4) << "only the allowed tokens have a finite logprob";
  double mass = 0;
  for (const TokenLogprob& t : g.top_logprobs()) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), t.token), ids.end());
    mass += std::exp(t.logprob);
  }
  EXPECT_NEAR(mass, 1.0, 1e-5);
  SamplingParams sampled;
  sampled.seed = 9;
  std::map<int32_t, int> seen;
  for (int64_t pos = 0; pos < 400; ++pos) ++seen[Sample(logits, sampled, {}, {}, pos, scratch, {}, allowed).token];
  for (const auto& [token, n] : seen) EXPECT_NE(std::find(ids.begin(), ids.end(), token), ids.end()) << token;
  EXPECT_GE(seen.size(), 2u);
  // Without the mask the same draws leave the allowed set.
  EXPECT_NE(Sample(logits, greedy, {}, {}, 0, scratch).token, best);
}

}  // namespace
}  // namespace hearth
