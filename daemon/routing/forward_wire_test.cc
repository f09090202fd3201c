#include "daemon/routing/forward_wire.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "sampling/stop_matcher.h"

namespace hearth::daemon {
namespace {

ForwardRequest Sample() {
  ForwardRequest r;
  r.model = "smollm2";
  r.prompt = {1, 2, 3};
  r.sampling.temperature = 0.7f;
  r.sampling.top_k = 40;
  r.sampling.top_p = 0.9f;
  r.sampling.seed = 18446744073709551557ull;  // above 2^53: must survive as text
  r.sampling.num_logprobs = 2;
  r.sampling.logit_bias = {{4, -100.0f}, {9, 0.3f}};
  r.sampling.min_tokens = 5;
  r.sampling.ignore_eos = true;
  r.sampling.stop_token_ids = {11};
  r.sampling.grammar = "root ::= [0-9]+ \"\\n\"";
  r.max_tokens = 32;
  r.stop = {"\n\n"};
  r.priority = -1;
  r.committed = {7, 8};
  r.entry = "node-a";
  r.entry_id = 42;
  return r;
}

TEST(ForwardWireTest, RequestRoundTrips) {
  StatusOr<ForwardRequest> back = DecodeForwardRequest(EncodeForwardRequest(Sample()));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->model, "smollm2");
  EXPECT_EQ(back->prompt, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_FLOAT_EQ(back->sampling.temperature, 0.7f);
  EXPECT_EQ(back->sampling.top_k, 40);
  EXPECT_FLOAT_EQ(back->sampling.top_p, 0.9f);
  EXPECT_EQ(back->sampling.seed, 18446744073709551557ull);
  EXPECT_EQ(back->sampling.num_logprobs, 2);
  EXPECT_EQ(back->sampling.logit_bias, (std::vector<LogitBias>{{4, -100.0f}, {9, 0.3f}}));
  EXPECT_EQ(back->sampling.min_tokens, 5);
  EXPECT_TRUE(back->sampling.ignore_eos);
  EXPECT_EQ(back->sampling.stop_token_ids, (std::vector<int32_t>{11}));
  EXPECT_EQ(back->sampling.grammar, "root ::= [0-9]+ \"\\n\"");
  EXPECT_EQ(back->max_tokens, 32);
  EXPECT_EQ(back->stop, (std::vector<std::string>{"\n\n"}));
  EXPECT_EQ(back->priority, -1);
  EXPECT_EQ(back->committed, (std::vector<int32_t>{7, 8}));
  EXPECT_EQ(back->entry, "node-a");
  EXPECT_EQ(back->entry_id, 42u);
}

TEST(ForwardWireTest, BadRequestsAreRefused) {
  const std::string good = EncodeForwardRequest(Sample());
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  for (const std::string& bad : {
           std::string("not json"), std::string("[]"), std::string("{}"),
           with("\"prompt\":[1,2,3]", "\"prompt\":[]"),
           with("\"prompt\":[1,2,3]", "\"prompt\":[1,-2,3]"),
           with("\"prompt\":[1,2,3]", "\"prompt\":[1,\"2\",3]"),
           with("\"max_tokens\":32", "\"max_tokens\":0"),
           with("\"max_tokens\":32", "\"max_tokens\":2"),  // committed leaves nothing to generate
           with("\"temperature\":", "\"temperature\":-1,\"x\":"),
           with("\"seed\":\"18446744073709551557\"", "\"seed\":\"99999999999999999999\""),
           with("\"seed\":\"18446744073709551557\"", "\"seed\":\"-1\""),
           with("\"num_logprobs\":2", "\"num_logprobs\":21"),
           with("\"stop\":[\"\\n\\n\"]", "\"stop\":[\"" + std::string(kMaxStopStringBytes + 1, 'a') + "\"]"),
           with("\"logit_bias\":[[4,-100.0]", "\"logit_bias\":[[4,-100.5]"),
           with("\"logit_bias\":[[4,-100.0]", "\"logit_bias\":[[4]"),
           with("\"logit_bias\":[[4,-100.0],[9,", "\"logit_bias\":[[9,-100.0],[4,"),
           with("\"min_tokens\":5", "\"min_tokens\":-5"),
           with("\"ignore_eos\":true", "\"ignore_eos\":\"yes\""),
           with("\"stop_token_ids\":[11]", "\"stop_token_ids\":[-11]"),
           with("\"stop\":[\"\\n\\n\"]", "\"stop\":[\"\"]"),
           with("\"model\":\"smollm2\"", "\"model\":\"\""),
           with("\"entry_id\":42", "\"entry_id\":-42"),
       }) {
    EXPECT_FALSE(DecodeForwardRequest(bad).ok()) << bad;
  }
}

TEST(ForwardWireTest, ANodeThatSendsNoNewerSamplingFieldsMeansTheDefaults) {
  std::string json = EncodeForwardRequest(Sample());
  const size_t from = json.find(",\"logit_bias\"");
  const size_t to = json.find("},\"committed\"");
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  json.erase(from, to - from);
  StatusOr<ForwardRequest> back = DecodeForwardRequest(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << " " << json;
  EXPECT_TRUE(back->sampling.logit_bias.empty());
  EXPECT_EQ(back->sampling.min_tokens, 0);
  EXPECT_FALSE(back->sampling.ignore_eos);
  EXPECT_TRUE(back->sampling.stop_token_ids.empty());
}

TEST(ForwardWireTest, TokenFramesRoundTrip) {
  GeneratedToken t{17, "x", -0.25f, {{17, "x", -0.25f}, {3, "y", -std::numeric_limits<float>::infinity()}}};
  StatusOr<ForwardFrame> f = DecodeForwardFrame(EncodeTokenFrame(t));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_FALSE(f->is_finish);
  EXPECT_EQ(f->token, 17);
  EXPECT_FLOAT_EQ(f->logprob, -0.25f);
  ASSERT_EQ(f->top.size(), 2u);
  EXPECT_EQ(f->top[1].token, 3);
  EXPECT_LT(f->top[1].logprob, -1e37f);  // -inf travels as the lowest float
}

TEST(ForwardWireTest, FinishFramesRoundTripWithTheirError) {
  FinishEvent e;
  e.finish_reason = FinishReason::kLength;
  e.prompt_tokens = 5;
  e.completion_tokens = 9;
  StatusOr<ForwardFrame> f = DecodeForwardFrame(EncodeFinishFrame(e));
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->is_finish);
  EXPECT_EQ(f->reason, FinishReason::kLength);
  EXPECT_EQ(f->prompt_tokens, 5);
  EXPECT_EQ(f->completion_tokens, 9);
  EXPECT_TRUE(FrameStatus(*f).ok());
  EXPECT_EQ(f->generated_tokens, 0);
  EXPECT_EQ(f->cost_dollars, 0);
  EXPECT_EQ(f->cached_tokens, 0);
  // The prompt tokens the serving node's prefix cache held (usage.prompt_tokens_details).
  e.cached_tokens = 4;
  f = DecodeForwardFrame(EncodeFinishFrame(e));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->cached_tokens, 4);
  EXPECT_FALSE(DecodeForwardFrame("{\"finish\":\"stop\",\"prompt_tokens\":5,\"completion_tokens\":9,"
                                  "\"cached_tokens\":6}")
                   .ok())
      << "more cached than the prompt";
  e.cached_tokens = 0;
  // What the serving node generated and what that cost there.
  f = DecodeForwardFrame(EncodeFinishFrame(e, 4, 0.125));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->generated_tokens, 4);
  EXPECT_DOUBLE_EQ(f->cost_dollars, 0.125);
  // An older node says neither.
  f = DecodeForwardFrame("{\"finish\":\"length\",\"prompt_tokens\":5,\"completion_tokens\":9}");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->generated_tokens, 0);
  EXPECT_TRUE(f->next_node.empty());
  // A draining node names where it handed the request.
  e.finish_reason = FinishReason::kCancelled;
  f = DecodeForwardFrame(EncodeFinishFrame(e, 4, 0.125, "node-c"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->next_node, "node-c");

  e.finish_reason = FinishReason::kError;
  e.status = Status::Unavailable("server shutting down");
  f = DecodeForwardFrame(EncodeFinishFrame(e));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(FrameStatus(*f).code(), Status::Code::kUnavailable);
  EXPECT_EQ(FrameStatus(*f).message(), "server shutting down");
}

TEST(ForwardWireTest, BadFramesAreRefused) {
  for (const char* bad : {"", "{}", "{\"t\":-1,\"lp\":0}", "{\"t\":1}", "{\"t\":1,\"lp\":5}", "{\"t\":1,\"lp\":\"x\"}",
                          "{\"t\":1,\"lp\":-1,\"top\":[[1]]}", "{\"finish\":\"maybe\",\"prompt_tokens\":1,\"completion_tokens\":1}",
                          "{\"finish\":\"stop\",\"prompt_tokens\":-1,\"completion_tokens\":1}",
                          "{\"finish\":\"stop\",\"prompt_tokens\":1,\"completion_tokens\":1,\"generated_tokens\":-2}",
                          "{\"finish\":\"stop\",\"prompt_tokens\":1,\"completion_tokens\":1,\"cost_dollars\":-1}",
                          "{\"finish\":\"stop\",\"prompt_tokens\":1,\"completion_tokens\":1,\"cost_dollars\":\"x\"}",
                          "{\"finish\":\"error\",\"prompt_tokens\":1,\"completion_tokens\":1,\"code\":99,\"error\":\"x\"}",
                          "{\"finish\":\"error\",\"prompt_tokens\":1,\"completion_tokens\":1}",
                          "{\"finish\":\"cancelled\",\"prompt_tokens\":1,\"completion_tokens\":1,\"next_node\":\"a/b\"}",
                          "{\"finish\":\"cancelled\",\"prompt_tokens\":1,\"completion_tokens\":1,\"next_node\":3}"}) {
    EXPECT_FALSE(DecodeForwardFrame(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace hearth::daemon
