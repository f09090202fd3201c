#include "daemon/durability/durable_params.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace hearth::daemon {
namespace {

TEST(DurableParamsTest, RoundTripsEveryField) {
  DurableParams p;
  p.gen.max_tokens = 48;
  p.gen.priority = -2;
  p.gen.stop = {"\n\n", "é\"}"};
  p.gen.sampling.temperature = 0.7f;
  p.gen.sampling.top_k = 40;
  p.gen.sampling.top_p = 0.9f;
  p.gen.sampling.min_p = 0.05f;
  p.gen.sampling.repetition_penalty = 1.1f;
  p.gen.sampling.frequency_penalty = 0.3f;
  p.gen.sampling.presence_penalty = -0.2f;
  p.gen.sampling.seed = 18446744073709551557ull;
  p.gen.sampling.num_logprobs = 3;
  p.gen.sampling.logit_bias = {{5, -100.0f}, {7042, 0.1f}};
  p.gen.sampling.min_tokens = 9;
  p.gen.sampling.ignore_eos = true;
  p.gen.sampling.stop_token_ids = {2, 49152};
  p.gen.sampling.grammar = "root ::= \"{\" [^\\n]* \"}\"";
  p.chat = false;
  p.stream = true;
  p.logprobs = true;
  p.include_usage = true;
  p.created = 1764100000;
  DurableParams q;
  ASSERT_TRUE(DecodeDurableParams(EncodeDurableParams(p), &q).ok());
  EXPECT_EQ(q.gen.max_tokens, 48);
  EXPECT_EQ(q.gen.priority, -2);
  EXPECT_EQ(q.gen.stop, p.gen.stop);
  const SamplingParams& a = p.gen.sampling;
  const SamplingParams& b = q.gen.sampling;
  EXPECT_EQ(a.temperature, b.temperature);  // exactly: the sampler must see the same floats
  EXPECT_EQ(a.top_k, b.top_k);
  EXPECT_EQ(a.top_p, b.top_p);
  EXPECT_EQ(a.min_p, b.min_p);
  EXPECT_EQ(a.repetition_penalty, b.repetition_penalty);
  EXPECT_EQ(a.frequency_penalty, b.frequency_penalty);
  EXPECT_EQ(a.presence_penalty, b.presence_penalty);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.num_logprobs, b.num_logprobs);
  EXPECT_EQ(a.logit_bias, b.logit_bias);  // 0.1f exactly, through double
  EXPECT_EQ(a.min_tokens, b.min_tokens);
  EXPECT_EQ(a.ignore_eos, b.ignore_eos);
  EXPECT_EQ(a.stop_token_ids, b.stop_token_ids);
  EXPECT_EQ(a.grammar, b.grammar);
  EXPECT_FALSE(q.chat);
  EXPECT_TRUE(q.stream);
  EXPECT_TRUE(q.logprobs);
  EXPECT_TRUE(q.include_usage);
  EXPECT_EQ(q.created, 1764100000);
  EXPECT_EQ(q.tool_format, "");
}

TEST(DurableParamsTest, ToolFormatRoundTripsAndIsAbsentWithoutTools) {
  DurableParams p;
  EXPECT_EQ(EncodeDurableParams(p).find("tool_format"), std::string::npos);  // rows as before
  p.tool_format = "json_array";
  DurableParams q;
  ASSERT_TRUE(DecodeDurableParams(EncodeDurableParams(p), &q).ok());
  EXPECT_EQ(q.tool_format, "json_array");
  std::string json = EncodeDurableParams(p);
  json.replace(json.find("\"json_array\""), 12, "7");
  EXPECT_EQ(DecodeDurableParams(json, &q).code(), Status::Code::kCorruption);
}

TEST(DurableParamsTest, RejectsWhatItDidNotWrite) {
  DurableParams q;
  EXPECT_EQ(DecodeDurableParams("", &q).code(), Status::Code::kCorruption);
  EXPECT_EQ(DecodeDurableParams("[]", &q).code(), Status::Code::kCorruption);
  EXPECT_EQ(DecodeDurableParams(R"({"chat":true})", &q).code(), Status::Code::kCorruption);
  std::string json = EncodeDurableParams(DurableParams{});
  json.replace(json.find("\"seed\":0"), 8, "\"seed\":-1");
  EXPECT_EQ(DecodeDurableParams(json, &q).code(), Status::Code::kCorruption);
}

TEST(DurableParamsTest, RowsWithoutTheNewerSamplingFieldsGetDefaults) {
  DurableParams p;
  p.gen.sampling.min_tokens = 3;
  std::string json = EncodeDurableParams(p);
  const size_t from = json.find(",\"logit_bias\"");
  ASSERT_NE(from, std::string::npos);
  json = json.substr(0, from) + "}";  // as an earlier version stored it
  DurableParams q;
  ASSERT_TRUE(DecodeDurableParams(json, &q).ok()) << json;
  EXPECT_TRUE(q.gen.sampling.logit_bias.empty());
  EXPECT_EQ(q.gen.sampling.min_tokens, 0);
  EXPECT_FALSE(q.gen.sampling.ignore_eos);
  EXPECT_TRUE(q.gen.sampling.stop_token_ids.empty());
  EXPECT_TRUE(q.gen.sampling.grammar.empty());
}

// A Messages request is stored as a chat request that says so; every other row, and every row
// an earlier version wrote, has no "api" and reads back as not one.
TEST(DurableParamsTest, MessagesRequestsAreMarked) {
  DurableParams p;
  p.messages = true;
  p.gen.stop = {"END"};
  const std::string json = EncodeDurableParams(p);
  DurableParams q;
  ASSERT_TRUE(DecodeDurableParams(json, &q).ok()) << json;
  EXPECT_TRUE(q.messages);
  EXPECT_TRUE(q.chat);
  EXPECT_EQ(q.gen.stop, p.gen.stop);
  p.messages = false;
  EXPECT_EQ(EncodeDurableParams(p).find("\"api\""), std::string::npos);
  ASSERT_TRUE(DecodeDurableParams(EncodeDurableParams(p), &q).ok());
  EXPECT_FALSE(q.messages);
  std::string other = json;
  other.replace(other.find("\"messages\""), 10, "\"complete\"");
  EXPECT_FALSE(DecodeDurableParams(other, &q).ok()) << other;
}

TEST(DurableParamsTest, RejectsMalformedNewerSamplingFields) {
  const std::string good = EncodeDurableParams(DurableParams{});
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"\"logit_bias\":[]", "\"logit_bias\":[[1]]"},
           {"\"logit_bias\":[]", "\"logit_bias\":[[-4,1.0]]"},
           {"\"logit_bias\":[]", "\"logit_bias\":[[4,101.0]]"},
           {"\"min_tokens\":0", "\"min_tokens\":-1"},
           {"\"ignore_eos\":false", "\"ignore_eos\":1"},
           {"\"stop_token_ids\":[]", "\"stop_token_ids\":[\"x\"]"}}) {
    std::string json = good;
    ASSERT_NE(json.find(from), std::string::npos) << from;
    json.replace(json.find(from), from.size(), to);
    DurableParams q;
    EXPECT_EQ(DecodeDurableParams(json, &q).code(), Status::Code::kCorruption) << json;
  }
}

TEST(DurableParamsTest, RejectsSamplingParamsTheApiWouldRefuse) {
  DurableParams p;
  p.gen.sampling.top_p = 2.0f;  // well-formed JSON, but out of range
  DurableParams q;
  const Status st = DecodeDurableParams(EncodeDurableParams(p), &q);
  EXPECT_EQ(st.code(), Status::Code::kCorruption);
  EXPECT_NE(st.message().find("top_p"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace hearth::daemon
