#include "sampling/sampling_params.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace hearth {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

struct BadCase {
  std::function<void(SamplingParams&)> mutate;
  std::string field;
};

TEST(SamplingParamsTest, DefaultsAreValidAndNotGreedy) {
  SamplingParams p;
  EXPECT_TRUE(p.Validate().ok());
  EXPECT_FALSE(p.greedy());
  p.temperature = 0;
  EXPECT_TRUE(p.greedy());
}

TEST(SamplingParamsTest, AcceptsRangeEnds) {
  SamplingParams p;
  p.temperature = 2;
  p.top_p = 1;
  p.min_p = 1;
  p.repetition_penalty = 10;
  p.frequency_penalty = -2;
  p.presence_penalty = 2;
  p.num_logprobs = kMaxLogprobs;
  p.top_k = 1000000;
  EXPECT_TRUE(p.Validate().ok()) << p.Validate().ToString();
}

TEST(SamplingParamsTest, RejectsEachBadFieldByName) {
  const std::vector<BadCase> cases = {
      {[](SamplingParams& p) { p.temperature = -0.1f; }, "temperature"},
      {[](SamplingParams& p) { p.temperature = 2.01f; }, "temperature"},
      {[](SamplingParams& p) { p.temperature = kNaN; }, "temperature"},
      {[](SamplingParams& p) { p.top_k = -1; }, "top_k"},
      {[](SamplingParams& p) { p.top_p = 0; }, "top_p"},
      {[](SamplingParams& p) { p.top_p = 1.5f; }, "top_p"},
      {[](SamplingParams& p) { p.top_p = kNaN; }, "top_p"},
      {[](SamplingParams& p) { p.min_p = -0.01f; }, "min_p"},
      {[](SamplingParams& p) { p.min_p = 1.01f; }, "min_p"},
      {[](SamplingParams& p) { p.min_p = kNaN; }, "min_p"},
      {[](SamplingParams& p) { p.repetition_penalty = 0; }, "repetition_penalty"},
      {[](SamplingParams& p) { p.repetition_penalty = 10.5f; }, "repetition_penalty"},
      {[](SamplingParams& p) { p.repetition_penalty = kNaN; }, "repetition_penalty"},
      {[](SamplingParams& p) { p.frequency_penalty = -2.5f; }, "frequency_penalty"},
      {[](SamplingParams& p) { p.frequency_penalty = kNaN; }, "frequency_penalty"},
      {[](SamplingParams& p) { p.presence_penalty = 2.5f; }, "presence_penalty"},
      {[](SamplingParams& p) { p.presence_penalty = kNaN; }, "presence_penalty"},
      {[](SamplingParams& p) { p.num_logprobs = -1; }, "num_logprobs"},
      {[](SamplingParams& p) { p.num_logprobs = kMaxLogprobs + 1; }, "num_logprobs"},
  };
  for (const BadCase& c : cases) {
    SamplingParams p;
    c.mutate(p);
    const Status s = p.Validate();
    EXPECT_TRUE(s.IsInvalidArgument()) << c.field;
    EXPECT_EQ(s.message().rfind(c.field + " must be", 0), 0u) << s.message();
  }
}

TEST(SamplingParamsTest, AcceptsLogitBiasMinTokensAndStopTokenIds) {
  SamplingParams p;
  for (int32_t t = 0; t < static_cast<int32_t>(kMaxLogitBias); ++t) {
    p.logit_bias.push_back({t, t % 2 ? 100.0f : -100.0f});
  }
  p.min_tokens = 5;
  p.ignore_eos = true;
  p.stop_token_ids.assign(kMaxStopTokenIds, 7);
  EXPECT_TRUE(p.Validate().ok()) << p.Validate().ToString();
}

TEST(SamplingParamsTest, RejectsBadNewFieldsByName) {
  const std::vector<BadCase> cases = {
      {[](SamplingParams& p) { p.logit_bias = {{-1, 0}}; }, "logit_bias"},
      {[](SamplingParams& p) { p.logit_bias = {{3, 1}, {3, 2}}; }, "logit_bias"},
      {[](SamplingParams& p) { p.logit_bias = {{4, 1}, {3, 2}}; }, "logit_bias"},
      {[](SamplingParams& p) { p.logit_bias = {{3, 100.5f}}; }, "logit_bias"},
      {[](SamplingParams& p) { p.logit_bias = {{3, kNaN}}; }, "logit_bias"},
      {[](SamplingParams& p) {
         for (int32_t t = 0; t <= static_cast<int32_t>(kMaxLogitBias); ++t) p.logit_bias.push_back({t, 1});
       },
       "logit_bias"},
      {[](SamplingParams& p) { p.min_tokens = -1; }, "min_tokens"},
      {[](SamplingParams& p) { p.stop_token_ids = {-2}; }, "stop_token_ids"},
      {[](SamplingParams& p) { p.stop_token_ids.assign(kMaxStopTokenIds + 1, 1); }, "stop_token_ids"},
  };
  for (const BadCase& c : cases) {
    SamplingParams p;
    c.mutate(p);
    const Status s = p.Validate();
    EXPECT_TRUE(s.IsInvalidArgument()) << c.field;
    EXPECT_EQ(s.message().rfind(c.field + " ", 0), 0u) << s.message();
  }
}

TEST(SamplingParamsTest, RequestEndTokensJoinStopTokenIdsAndTheModelsUnlessIgnoreEos) {
  SamplingParams p;
  EXPECT_EQ(RequestEndTokens(p, {2, 0}), (std::vector<int32_t>{0, 2}));
  p.stop_token_ids = {7, 2};
  EXPECT_EQ(RequestEndTokens(p, {2, 0}), (std::vector<int32_t>{0, 2, 7}));
  p.ignore_eos = true;
  EXPECT_EQ(RequestEndTokens(p, {2, 0}), (std::vector<int32_t>{2, 7}));
  p.stop_token_ids.clear();
  EXPECT_TRUE(RequestEndTokens(p, {2, 0}).empty());
}

}  // namespace
}  // namespace hearth
