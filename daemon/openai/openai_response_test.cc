#include "daemon/openai/openai_response.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <limits>

namespace hearth::daemon {
namespace {

rapidjson::Document Parse(const std::string& json) {
  rapidjson::Document d;
  d.Parse<rapidjson::kParseValidateEncodingFlag>(json.c_str(), json.size());
  EXPECT_FALSE(d.HasParseError()) << json;
  EXPECT_TRUE(d.IsObject()) << json;
  return d;
}

ResponseMeta Meta() { return ResponseMeta{"chatcmpl-7", 1700000000, "smollm2"}; }

CompletionOutput Output() {
  CompletionOutput out;
  out.text = "Hello there";
  out.finish_reason = FinishReason::kStop;
  out.usage = {12, 3, 8};
  return out;
}

TEST(OpenAiResponseTest, ChatCompletion) {
  auto d = Parse(ChatCompletionJson(Meta(), Output()));
  EXPECT_STREQ(d["id"].GetString(), "chatcmpl-7");
  EXPECT_STREQ(d["object"].GetString(), "chat.completion");
  EXPECT_EQ(d["created"].GetInt64(), 1700000000);
  EXPECT_STREQ(d["model"].GetString(), "smollm2");
  ASSERT_EQ(d["choices"].Size(), 1u);
  const auto& c = d["choices"][0];
  EXPECT_EQ(c["index"].GetInt(), 0);
  EXPECT_STREQ(c["message"]["role"].GetString(), "assistant");
  EXPECT_STREQ(c["message"]["content"].GetString(), "Hello there");
  EXPECT_TRUE(c["logprobs"].IsNull());
  EXPECT_STREQ(c["finish_reason"].GetString(), "stop");
  EXPECT_EQ(d["usage"]["prompt_tokens"].GetInt(), 12);
  EXPECT_EQ(d["usage"]["completion_tokens"].GetInt(), 3);
  EXPECT_EQ(d["usage"]["total_tokens"].GetInt(), 15);
  EXPECT_EQ(d["usage"]["prompt_tokens_details"]["cached_tokens"].GetInt(), 8);
}

TEST(OpenAiResponseTest, ChatCompletionWithToolCalls) {
  CompletionOutput out = Output();
  out.text = "";
  out.tool_calls = {{"call_7_0", "get_weather", R"({"city":"Paris"})"}, {"call_7_1", "now", "{}"}};
  auto d = Parse(ChatCompletionJson(Meta(), out));
  const auto& c = d["choices"][0];
  EXPECT_TRUE(c["message"]["content"].IsNull());  // calls alone: content null
  const auto& calls = c["message"]["tool_calls"];
  ASSERT_EQ(calls.Size(), 2u);
  EXPECT_STREQ(calls[0]["id"].GetString(), "call_7_0");
  EXPECT_STREQ(calls[0]["type"].GetString(), "function");
  EXPECT_STREQ(calls[0]["function"]["name"].GetString(), "get_weather");
  EXPECT_STREQ(calls[0]["function"]["arguments"].GetString(), R"({"city":"Paris"})");
  EXPECT_FALSE(calls[0].HasMember("index"));
  EXPECT_STREQ(c["finish_reason"].GetString(), "tool_calls");
  out.text = "Checking.";
  out.finish_reason = FinishReason::kLength;
  d = Parse(ChatCompletionJson(Meta(), out));
  EXPECT_STREQ(d["choices"][0]["message"]["content"].GetString(), "Checking.");
  EXPECT_STREQ(d["choices"][0]["finish_reason"].GetString(), "length");
}

TEST(OpenAiResponseTest, ChatLogprobsInOpenAiFormat) {
  CompletionOutput out = Output();
  out.logprobs = true;
  out.tokens = {{0, "Hel", -0.5f, {{1, "Hel", -0.5f}, {2, "He", -1.5f}}},
                {0, "\xE4\xB8", -std::numeric_limits<float>::infinity(), {}}};
  auto d = Parse(ChatCompletionJson(Meta(), out));
  const auto& content = d["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.Size(), 2u);
  EXPECT_STREQ(content[0]["token"].GetString(), "Hel");
  EXPECT_DOUBLE_EQ(content[0]["logprob"].GetDouble(), -0.5);
  ASSERT_EQ(content[0]["bytes"].Size(), 3u);
  EXPECT_EQ(content[0]["bytes"][0].GetInt(), 'H');
  ASSERT_EQ(content[0]["top_logprobs"].Size(), 2u);
  EXPECT_STREQ(content[0]["top_logprobs"][1]["token"].GetString(), "He");
  EXPECT_DOUBLE_EQ(content[0]["top_logprobs"][1]["logprob"].GetDouble(), -1.5);
  EXPECT_EQ(content[0]["top_logprobs"][1]["bytes"].Size(), 2u);
  // A partial character: the token string is made valid, the bytes stay exact.
  EXPECT_STREQ(content[1]["token"].GetString(), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(content[1]["bytes"][0].GetInt(), 0xE4);
  EXPECT_EQ(content[1]["bytes"][1].GetInt(), 0xB8);
  EXPECT_DOUBLE_EQ(content[1]["logprob"].GetDouble(), -9999.0);
  EXPECT_TRUE(content[1]["top_logprobs"].IsArray());
}

TEST(OpenAiResponseTest, InvalidUtf8TextIsSanitized) {
  CompletionOutput out = Output();
  out.text = "ok\xFF";
  auto d = Parse(ChatCompletionJson(Meta(), out));
  EXPECT_STREQ(d["choices"][0]["message"]["content"].GetString(), "ok\xEF\xBF\xBD");
}

TEST(OpenAiResponseTest, TextCompletionWithLogprobs) {
  CompletionOutput out = Output();
  out.text = "ab";
  out.finish_reason = FinishReason::kLength;
  out.logprobs = true;
  out.tokens = {{0, "a", -0.1f, {{5, "a", -0.1f}, {6, "b", -2.0f}}}, {0, "b", -0.2f, {}}};
  auto d = Parse(TextCompletionJson(ResponseMeta{"cmpl-9", 1, "m"}, out));
  EXPECT_STREQ(d["object"].GetString(), "text_completion");
  EXPECT_STREQ(d["id"].GetString(), "cmpl-9");
  const auto& c = d["choices"][0];
  EXPECT_STREQ(c["text"].GetString(), "ab");
  EXPECT_STREQ(c["finish_reason"].GetString(), "length");
  const auto& lp = c["logprobs"];
  ASSERT_EQ(lp["tokens"].Size(), 2u);
  EXPECT_STREQ(lp["tokens"][1].GetString(), "b");
  EXPECT_NEAR(lp["token_logprobs"][0].GetDouble(), -0.1, 1e-6);
  EXPECT_NEAR(lp["top_logprobs"][0]["b"].GetDouble(), -2.0, 1e-6);
  EXPECT_EQ(lp["top_logprobs"][1].MemberCount(), 0u);
  EXPECT_EQ(lp["text_offset"][0].GetInt(), 0);
  EXPECT_EQ(lp["text_offset"][1].GetInt(), 1);
  EXPECT_EQ(d["usage"]["total_tokens"].GetInt(), 15);
}

TEST(OpenAiResponseTest, ChatChunks) {
  auto role = Parse(ChatRoleChunk(Meta()));
  EXPECT_STREQ(role["object"].GetString(), "chat.completion.chunk");
  EXPECT_STREQ(role["choices"][0]["delta"]["role"].GetString(), "assistant");
  EXPECT_TRUE(role["choices"][0]["finish_reason"].IsNull());

  std::vector<GeneratedToken> lp = {{0, "Hi", -0.25f, {}}};
  auto content = Parse(ChatContentChunk(Meta(), "Hi", lp));
  EXPECT_STREQ(content["choices"][0]["delta"]["content"].GetString(), "Hi");
  EXPECT_FALSE(content["choices"][0]["delta"].HasMember("role"));
  EXPECT_STREQ(content["choices"][0]["logprobs"]["content"][0]["token"].GetString(), "Hi");
  EXPECT_TRUE(Parse(ChatContentChunk(Meta(), "x", std::nullopt))["choices"][0]["logprobs"].IsNull());

  auto finish = Parse(ChatFinishChunk(Meta(), FinishReason::kLength));
  EXPECT_EQ(finish["choices"][0]["delta"].MemberCount(), 0u);
  EXPECT_STREQ(finish["choices"][0]["finish_reason"].GetString(), "length");

  auto usage = Parse(UsageChunk(Meta(), true, {4, 2, 0}));
  EXPECT_EQ(usage["usage"]["prompt_tokens_details"]["cached_tokens"].GetInt(), 0);
  EXPECT_EQ(usage["choices"].Size(), 0u);
  EXPECT_EQ(usage["usage"]["total_tokens"].GetInt(), 6);
  EXPECT_STREQ(usage["object"].GetString(), "chat.completion.chunk");
}

TEST(OpenAiResponseTest, TextChunks) {
  std::vector<GeneratedToken> lp = {{0, "c", -1.0f, {}}};
  auto chunk = Parse(TextChunk(ResponseMeta{"cmpl-1", 1, "m"}, "c", lp, 5, std::nullopt));
  EXPECT_STREQ(chunk["object"].GetString(), "text_completion");
  EXPECT_STREQ(chunk["choices"][0]["text"].GetString(), "c");
  EXPECT_TRUE(chunk["choices"][0]["finish_reason"].IsNull());
  EXPECT_EQ(chunk["choices"][0]["logprobs"]["text_offset"][0].GetInt(), 5);
  auto last = Parse(TextChunk(ResponseMeta{"cmpl-1", 1, "m"}, "", std::nullopt, 0, FinishReason::kStop));
  EXPECT_STREQ(last["choices"][0]["finish_reason"].GetString(), "stop");
  EXPECT_STREQ(Parse(UsageChunk(Meta(), false, {1, 1}))["object"].GetString(), "text_completion");
}

TEST(OpenAiResponseTest, SeveralChoicesCountThePromptOnce) {
  CompletionOutput a = Output();
  CompletionOutput b = Output();
  b.text = "Bye";
  b.finish_reason = FinishReason::kLength;
  b.usage = {12, 5};
  b.logprobs = true;
  b.tokens = {{0, "Bye", -0.5f, {}}};
  auto chat = Parse(ChatCompletionJson(Meta(), std::vector<CompletionOutput>{a, b}));
  ASSERT_EQ(chat["choices"].Size(), 2u);
  EXPECT_EQ(chat["choices"][0]["index"].GetInt(), 0);
  EXPECT_EQ(chat["choices"][1]["index"].GetInt(), 1);
  EXPECT_STREQ(chat["choices"][0]["message"]["content"].GetString(), "Hello there");
  EXPECT_STREQ(chat["choices"][1]["message"]["content"].GetString(), "Bye");
  EXPECT_STREQ(chat["choices"][0]["finish_reason"].GetString(), "stop");
  EXPECT_STREQ(chat["choices"][1]["finish_reason"].GetString(), "length");
  EXPECT_TRUE(chat["choices"][0]["logprobs"].IsNull());
  EXPECT_EQ(chat["choices"][1]["logprobs"]["content"].Size(), 1u);
  EXPECT_EQ(chat["usage"]["prompt_tokens"].GetInt(), 12);
  EXPECT_EQ(chat["usage"]["completion_tokens"].GetInt(), 8);
  EXPECT_EQ(chat["usage"]["total_tokens"].GetInt(), 20);

  auto text = Parse(TextCompletionJson(ResponseMeta{"cmpl-9", 1, "m"}, std::vector<CompletionOutput>{a, b, a}));
  ASSERT_EQ(text["choices"].Size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(text["choices"][i]["index"].GetInt(), i);
  EXPECT_STREQ(text["choices"][1]["text"].GetString(), "Bye");
  EXPECT_EQ(text["usage"]["prompt_tokens"].GetInt(), 12);
  EXPECT_EQ(text["usage"]["completion_tokens"].GetInt(), 11);
}

TEST(OpenAiResponseTest, ChunksCarryTheChoiceIndex) {
  EXPECT_EQ(Parse(ChatRoleChunk(Meta(), 3))["choices"][0]["index"].GetInt(), 3);
  EXPECT_EQ(Parse(ChatContentChunk(Meta(), "x", std::nullopt, 4))["choices"][0]["index"].GetInt(), 4);
  EXPECT_EQ(Parse(ChatFinishChunk(Meta(), FinishReason::kStop, 5))["choices"][0]["index"].GetInt(), 5);
  EXPECT_EQ(Parse(TextChunk(Meta(), "x", std::nullopt, 0, std::nullopt, 6))["choices"][0]["index"].GetInt(), 6);
  EXPECT_EQ(Parse(ChatRoleChunk(Meta()))["choices"][0]["index"].GetInt(), 0);
}

TEST(OpenAiResponseTest, ModelObject) {
  auto d = Parse(ModelObjectJson("org/model \"q\"", 42));
  EXPECT_STREQ(d["id"].GetString(), "org/model \"q\"");
  EXPECT_STREQ(d["object"].GetString(), "model");
  EXPECT_EQ(d["created"].GetInt64(), 42);
  EXPECT_STREQ(d["owned_by"].GetString(), "hearth");
  EXPECT_FALSE(d.HasMember("max_model_len")) << "unknown: left out";
  EXPECT_EQ(Parse(ModelObjectJson("m", 42, 8192))["max_model_len"].GetInt(), 8192);
}

TEST(OpenAiResponseTest, SseFraming) {
  EXPECT_EQ(SseEvent("{}"), "data: {}\n\n");
  EXPECT_EQ(kSseDone, "data: [DONE]\n\n");
}

}  // namespace
}  // namespace hearth::daemon
