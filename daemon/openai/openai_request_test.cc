#include "daemon/openai/openai_request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sampling/stop_matcher.h"

namespace hearth::daemon {
namespace {

constexpr ApiEndpoint kChat = ApiEndpoint::kChatCompletions;
constexpr ApiEndpoint kText = ApiEndpoint::kCompletions;

struct BadCase {
  const char* name;
  ApiEndpoint endpoint;
  std::string body;
  const char* param;  // "" for null
};

// A chat body with `extra` spliced in after the model and messages.
std::string Chat(const std::string& extra) {
  return R"({"model":"m","messages":[{"role":"user","content":"hi"}])" + (extra.empty() ? "" : "," + extra) + "}";
}
std::string Text(const std::string& extra) {
  return R"({"model":"m","prompt":"hi")" + (extra.empty() ? "" : "," + extra) + "}";
}

// `"stop":[...]` with `count` strings of `bytes` bytes.
std::string StopStrings(size_t count, size_t bytes) {
  std::string out = R"("stop":[)";
  for (size_t i = 0; i < count; ++i) out.append(i ? "," : "").append("\"").append(bytes, 'a').append("\"");
  return out + "]";
}
std::string ManyBiases(size_t count) {
  std::string out = R"("logit_bias":{)";
  for (size_t i = 0; i < count; ++i) out.append(i ? "," : "").append("\"").append(std::to_string(i)).append("\":1");
  return out + "}";
}
std::string ManyStopTokenIds(size_t count) {
  std::string out = R"("stop_token_ids":[)";
  for (size_t i = 0; i < count; ++i) out.append(i ? "," : "").append(std::to_string(i));
  return out + "]";
}

std::vector<BadCase> BadCases() {
  return {
      {"EmptyBody", kChat, "", ""},
      {"NotJson", kChat, "{model: m}", ""},
      {"TrailingGarbage", kChat, Chat("") + "x", ""},
      {"Array", kChat, "[1,2]", ""},
      {"String", kChat, "\"hello\"", ""},
      {"InvalidUtf8", kChat, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}", ""},
      {"LoneSurrogate", kChat, R"({"model":"m","messages":[{"role":"user","content":"\ud800x"}]})", ""},
      {"NaNLiteral", kChat, Chat(R"("temperature":NaN)"), ""},
      {"MissingModel", kChat, R"({"messages":[{"role":"user","content":"hi"}]})", "model"},
      {"ModelNotString", kChat, R"({"model":7,"messages":[{"role":"user","content":"hi"}]})", "model"},
      {"ModelEmpty", kChat, R"({"model":"","messages":[{"role":"user","content":"hi"}]})", "model"},
      {"MissingMessages", kChat, R"({"model":"m"})", "messages"},
      {"MessagesNotArray", kChat, R"({"model":"m","messages":"hi"})", "messages"},
      {"MessagesEmpty", kChat, R"({"model":"m","messages":[]})", "messages"},
      {"MessageNotObject", kChat, R"({"model":"m","messages":["hi"]})", "messages[0]"},
      {"RoleMissing", kChat, R"({"model":"m","messages":[{"content":"hi"}]})", "messages[0].role"},
      {"RoleUnknown", kChat,
       R"({"model":"m","messages":[{"role":"user","content":"a"},{"role":"robot","content":"hi"}]})",
       "messages[1].role"},
      {"RoleNotString", kChat, R"({"model":"m","messages":[{"role":1,"content":"hi"}]})", "messages[0].role"},
      {"ContentMissing", kChat, R"({"model":"m","messages":[{"role":"user"}]})", "messages[0].content"},
      {"ContentNumber", kChat, R"({"model":"m","messages":[{"role":"user","content":5}]})", "messages[0].content"},
      {"ContentImagePart", kChat,
       R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]})",
       "messages[0].content"},
      {"ContentPartNoText", kChat, R"({"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]})",
       "messages[0].content"},
      {"ContentPartNotObject", kChat, R"({"model":"m","messages":[{"role":"user","content":["hi"]}]})",
       "messages[0].content"},
      {"MaxTokensZero", kChat, Chat(R"("max_tokens":0)"), "max_tokens"},
      {"MaxTokensNegative", kChat, Chat(R"("max_tokens":-5)"), "max_tokens"},
      {"MaxTokensFraction", kChat, Chat(R"("max_tokens":1.5)"), "max_tokens"},
      {"MaxTokensString", kChat, Chat(R"("max_tokens":"10")"), "max_tokens"},
      {"MaxTokensHuge", kChat, Chat(R"("max_tokens":99999999999)"), "max_tokens"},
      {"MaxCompletionTokensZero", kChat, Chat(R"("max_completion_tokens":0)"), "max_completion_tokens"},
      {"TemperatureTooHigh", kChat, Chat(R"("temperature":2.5)"), "temperature"},
      {"TemperatureNegative", kChat, Chat(R"("temperature":-0.1)"), "temperature"},
      {"TemperatureString", kChat, Chat(R"("temperature":"hot")"), "temperature"},
      {"TemperatureOverflow", kChat, Chat(R"("temperature":1e300)"), "temperature"},
      {"TopPZero", kChat, Chat(R"("top_p":0)"), "top_p"},
      {"TopPAboveOne", kChat, Chat(R"("top_p":1.01)"), "top_p"},
      {"TopKNegative", kChat, Chat(R"("top_k":-2)"), "top_k"},
      {"TopKFraction", kChat, Chat(R"("top_k":2.5)"), "top_k"},
      {"MinPAboveOne", kChat, Chat(R"("min_p":1.5)"), "min_p"},
      {"PresencePenaltyRange", kChat, Chat(R"("presence_penalty":3)"), "presence_penalty"},
      {"FrequencyPenaltyRange", kChat, Chat(R"("frequency_penalty":-2.5)"), "frequency_penalty"},
      {"RepetitionPenaltyZero", kChat, Chat(R"("repetition_penalty":0)"), "repetition_penalty"},
      {"SeedString", kChat, Chat(R"("seed":"42")"), "seed"},
      {"SeedFraction", kChat, Chat(R"("seed":4.2)"), "seed"},
      {"StopNumber", kChat, Chat(R"("stop":5)"), "stop"},
      {"StopEmptyString", kChat, Chat(R"("stop":"")"), "stop"},
      {"StopTooMany", kChat, Chat(StopStrings(kMaxStopStrings + 1, 1)), "stop"},
      {"StopTooLong", kChat, Chat(StopStrings(1, kMaxStopStringBytes + 1)), "stop"},
      {"StopArrayHasNumber", kChat, Chat(R"("stop":["a",1])"), "stop"},
      {"StopArrayHasEmpty", kChat, Chat(R"("stop":["a",""])"), "stop"},
      {"NZero", kChat, Chat(R"("n":0)"), "n"},
      {"NTooMany", kChat, Chat(R"("n":129)"), "n"},
      {"NFraction", kChat, Chat(R"("n":2.5)"), "n"},
      {"NString", kChat, Chat(R"("n":"1")"), "n"},
      {"ChatLogprobsInt", kChat, Chat(R"("logprobs":3)"), "logprobs"},
      {"TopLogprobsTooMany", kChat, Chat(R"("logprobs":true,"top_logprobs":21)"), "top_logprobs"},
      {"TopLogprobsNegative", kChat, Chat(R"("logprobs":true,"top_logprobs":-1)"), "top_logprobs"},
      {"TopLogprobsWithoutLogprobs", kChat, Chat(R"("top_logprobs":2)"), "top_logprobs"},
      {"StreamString", kChat, Chat(R"("stream":"yes")"), "stream"},
      {"StreamOptionsWithoutStream", kChat, Chat(R"("stream_options":{"include_usage":true})"), "stream_options"},
      {"StreamOptionsNotObject", kChat, Chat(R"("stream":true,"stream_options":true)"), "stream_options"},
      {"IncludeUsageNotBool", kChat, Chat(R"("stream":true,"stream_options":{"include_usage":1})"),
       "stream_options.include_usage"},
      {"UserNotString", kChat, Chat(R"("user":42)"), "user"},
      {"UnknownField", kChat, Chat(R"("some_extension":{"ignored":[1,2]})"), "some_extension"},
      {"Suffix", kText, Text(R"("suffix":"tail")"), "suffix"},
      {"GrammarThatDoesNotParse", kText, Text(R"("grammar":"root ::= (\"a\"")"), "grammar"},
      {"GuidedJson", kChat, Chat(R"("guided_json":{"type":"object"})"), "guided_json"},
      {"LogitBiasNotObject", kChat, Chat(R"("logit_bias":[1,2])"), "logit_bias"},
      {"LogitBiasKeyNotId", kChat, Chat(R"("logit_bias":{"Paris":-100})"), "logit_bias"},
      {"LogitBiasKeyNegative", kChat, Chat(R"("logit_bias":{"-5":-100})"), "logit_bias"},
      {"LogitBiasKeyHuge", kChat, Chat(R"("logit_bias":{"99999999999":1})"), "logit_bias"},
      {"LogitBiasKeyTwice", kChat, Chat(R"("logit_bias":{"7":1,"07":2})"), "logit_bias"},
      {"LogitBiasValueRange", kChat, Chat(R"("logit_bias":{"7":-100.5})"), "logit_bias"},
      {"LogitBiasValueString", kChat, Chat(R"("logit_bias":{"7":"-100"})"), "logit_bias"},
      {"LogitBiasTooMany", kText, Text(ManyBiases(kMaxLogitBias + 1)), "logit_bias"},
      {"MinTokensNegative", kChat, Chat(R"("min_tokens":-1)"), "min_tokens"},
      {"MinTokensString", kText, Text(R"("min_tokens":"3")"), "min_tokens"},
      {"IgnoreEosNotBool", kText, Text(R"("ignore_eos":1)"), "ignore_eos"},
      {"StopTokenIdsNotArray", kChat, Chat(R"("stop_token_ids":2)"), "stop_token_ids"},
      {"StopTokenIdsNegative", kChat, Chat(R"("stop_token_ids":[2,-1])"), "stop_token_ids"},
      {"StopTokenIdsTooMany", kText, Text(ManyStopTokenIds(kMaxStopTokenIds + 1)), "stop_token_ids"},
      {"ToolWithoutFunction", kChat, Chat(R"("tools":[{"type":"function"}])"), "tools[0].function"},
      {"ToolMessageWithoutCallId", kChat,
       R"({"model":"m","messages":[{"role":"user","content":"a"},{"role":"tool","content":"r"}]})",
       "messages[1].tool_call_id"},
      {"ToolCallsOnUser", kChat, R"({"model":"m","messages":[{"role":"user","content":"a","tool_calls":[]}]})",
       "messages[0].tool_calls"},
      {"ToolCallWithoutId", kChat,
       R"({"model":"m","messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f"}}]}]})",
       "messages[0].tool_calls[0]"},
      {"ForcedToolAndResponseFormat", kChat,
       Chat(R"("tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"required",)"
            R"("response_format":{"type":"json_object"})"),
       "tool_choice"},
      {"ResponseFormatYaml", kChat, Chat(R"("response_format":{"type":"yaml"})"), "response_format"},
      {"MissingPrompt", kText, R"({"model":"m"})", "prompt"},
      {"PromptNumber", kText, R"({"model":"m","prompt":5})", "prompt"},
      {"PromptEmptyArray", kText, R"({"model":"m","prompt":[]})", "prompt"},
      {"PromptNegativeToken", kText, R"({"model":"m","prompt":[1,-2]})", "prompt"},
      {"PromptFractionalToken", kText, R"({"model":"m","prompt":[1,2.5]})", "prompt"},
      {"PromptMixedArray", kText, R"({"model":"m","prompt":[1,"a"]})", "prompt"},
      {"PromptBatch", kText, R"({"model":"m","prompt":["a","b"]})", "prompt"},
      {"PromptTokenTooBig", kText, R"({"model":"m","prompt":[4294967296]})", "prompt"},
      {"CompletionLogprobsBool", kText, Text(R"("logprobs":true)"), "logprobs"},
      {"CompletionLogprobsSix", kText, Text(R"("logprobs":6)"), "logprobs"},
      {"Echo", kText, Text(R"("echo":true)"), "echo"},
      {"BestOf", kText, Text(R"("best_of":3)"), "best_of"},
      {"CompletionNZero", kText, Text(R"("n":0)"), "n"},
      {"CompletionNTooMany", kText, Text(R"("n":1000)"), "n"},
  };
}

class BadRequestTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadRequestTest, IsRejectedWithParam) {
  const BadCase& c = GetParam();
  ApiRequest req;
  auto error = ParseApiRequest(c.endpoint, c.body, &req);
  ASSERT_TRUE(error.has_value()) << c.body;
  EXPECT_EQ(error->http_status, 400) << c.body;
  EXPECT_EQ(error->param, c.param) << error->message;
  EXPECT_EQ(error->type, "invalid_request_error");
  EXPECT_FALSE(error->message.empty());
}

INSTANTIATE_TEST_SUITE_P(Malformed, BadRequestTest, ::testing::ValuesIn(BadCases()),
                         [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(OpenAiRequestTest, ParsesAFullChatRequest) {
  const std::string body = R"({
    "model": "smollm2", "messages": [
      {"role": "system", "content": "be brief"},
      {"role": "user", "content": [{"type": "text", "text": "hel"}, {"type": "text", "text": "lo"}]},
      {"role": "assistant", "content": "hi"},
      {"role": "developer", "content": "x"}],
    "max_tokens": 7, "temperature": 0, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "seed": 42,
    "stop": ["\n\n", "END"], "n": 1, "presence_penalty": 0.5, "frequency_penalty": -0.5,
    "repetition_penalty": 1.1, "logprobs": true, "top_logprobs": 3, "stream": true,
    "stream_options": {"include_usage": true}, "user": "u1", "logit_bias": {"7042": -100, "12": 3.5},
    "min_tokens": 2, "ignore_eos": true, "stop_token_ids": [5, 0]})";
  ApiRequest req;
  auto error = ParseApiRequest(kChat, body, &req);
  ASSERT_FALSE(error) << error->message;
  EXPECT_EQ(req.model, "smollm2");
  ASSERT_EQ(req.messages.size(), 4u);
  EXPECT_EQ(req.messages[1].role, "user");
  EXPECT_EQ(req.messages[1].content, "hello");
  EXPECT_EQ(req.messages[3].role, "system");
  EXPECT_EQ(req.max_tokens, 7);
  EXPECT_EQ(req.sampling.temperature, 0.0f);
  EXPECT_FLOAT_EQ(req.sampling.top_p, 0.9f);
  EXPECT_EQ(req.sampling.top_k, 40);
  EXPECT_FLOAT_EQ(req.sampling.min_p, 0.05f);
  EXPECT_EQ(req.seed, 42u);
  EXPECT_EQ(req.stop, (std::vector<std::string>{"\n\n", "END"}));
  EXPECT_FLOAT_EQ(req.sampling.repetition_penalty, 1.1f);
  EXPECT_TRUE(req.logprobs);
  EXPECT_EQ(req.sampling.num_logprobs, 3);
  EXPECT_TRUE(req.stream);
  EXPECT_TRUE(req.include_usage);
  EXPECT_EQ(req.sampling.logit_bias, (std::vector<LogitBias>{{12, 3.5f}, {7042, -100.0f}})) << "by token id";
  EXPECT_EQ(req.sampling.min_tokens, 2);
  EXPECT_TRUE(req.sampling.ignore_eos);
  EXPECT_EQ(req.sampling.stop_token_ids, (std::vector<int32_t>{5, 0}));
}

TEST(OpenAiRequestTest, ParsesAToolRoundTrip) {
  const std::string body = R"({"model": "m", "messages": [
      {"role": "user", "content": "weather?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
      "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}}, "parallel_tool_calls": false})";
  ApiRequest req;
  auto error = ParseApiRequest(kChat, body, &req);
  ASSERT_FALSE(error) << error->message;
  ASSERT_EQ(req.messages.size(), 3u);
  EXPECT_EQ(req.messages[1].content, "");
  // The arguments string becomes an object for the template, as vLLM passes it.
  EXPECT_EQ(req.messages[1].tool_calls_json,
            R"([{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":{"city":"Paris"}}}])");
  EXPECT_EQ(req.messages[2].role, "tool");
  EXPECT_EQ(req.messages[2].tool_call_id, "call_1");
  EXPECT_EQ(req.tools.choice, ToolChoice::kNamed);
  EXPECT_FALSE(req.tools.parallel);
  EXPECT_FALSE(req.sampling.grammar.empty());
  EXPECT_EQ(req.sampling.grammar, req.tools.grammar);
}

TEST(OpenAiRequestTest, AcceptsTheBoundsOfStopAndLogitBias) {
  ApiRequest req;
  ASSERT_FALSE(ParseApiRequest(kText, Text(StopStrings(kMaxStopStrings, kMaxStopStringBytes)), &req));
  EXPECT_EQ(req.stop.size(), kMaxStopStrings);
  ASSERT_FALSE(ParseApiRequest(kText, Text(ManyBiases(kMaxLogitBias)), &req));
  EXPECT_EQ(req.sampling.logit_bias.size(), kMaxLogitBias);
  ASSERT_FALSE(ParseApiRequest(kText, Text(ManyStopTokenIds(kMaxStopTokenIds)), &req));
  EXPECT_EQ(req.sampling.stop_token_ids.size(), kMaxStopTokenIds);
}

TEST(OpenAiRequestTest, TokenFieldsAreCheckedAgainstTheVocabulary) {
  ApiRequest req;
  ASSERT_FALSE(ParseApiRequest(kChat, Chat(R"("logit_bias":{"99":1},"stop_token_ids":[98])"), &req));
  EXPECT_FALSE(CheckTokenFields(req, 100));
  auto e = CheckTokenFields(req, 99);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "logit_bias");
  EXPECT_NE(e->message.find("99"), std::string::npos) << e->message;
  ASSERT_FALSE(ParseApiRequest(kChat, Chat(R"("stop_token_ids":[98])"), &req));
  e = CheckTokenFields(req, 98);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "stop_token_ids");
}

TEST(OpenAiRequestTest, MinTokensMayNotExceedMaxTokens) {
  ApiRequest req;
  int32_t max_tokens = 0;
  ASSERT_FALSE(ParseApiRequest(kChat, Chat(R"("min_tokens":5,"max_tokens":5)"), &req));
  EXPECT_FALSE(FitToContext(req, 10, 100, &max_tokens));
  ASSERT_FALSE(ParseApiRequest(kChat, Chat(R"("min_tokens":6,"max_tokens":5)"), &req));
  auto e = FitToContext(req, 10, 100, &max_tokens);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "min_tokens");
  ASSERT_FALSE(ParseApiRequest(kChat, Chat(R"("min_tokens":91)"), &req));  // the context leaves 90
  e = FitToContext(req, 10, 100, &max_tokens);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "min_tokens");
}

TEST(OpenAiRequestTest, DefaultsAndNulls) {
  ApiRequest req;
  ASSERT_FALSE(ParseApiRequest(kChat, Chat(R"("max_tokens":null,"temperature":null,"stop":null,"seed":null)"), &req));
  EXPECT_FALSE(req.max_tokens);
  EXPECT_FALSE(req.seed);
  EXPECT_TRUE(req.stop.empty());
  EXPECT_EQ(req.sampling.temperature, 1.0f);
  EXPECT_FALSE(req.stream);
  EXPECT_FALSE(req.logprobs);
}

TEST(OpenAiRequestTest, SeveralChoices) {
  ApiRequest req;
  ASSERT_FALSE(ParseApiRequest(kChat, Chat(""), &req));
  EXPECT_EQ(req.n, 1);
  ASSERT_FALSE(ParseApiRequest(kChat, Chat(R"("n":null)"), &req));
  EXPECT_EQ(req.n, 1);
  ASSERT_FALSE(ParseApiRequest(kChat, Chat(R"("n":3)"), &req));
  EXPECT_EQ(req.n, 3);
  ASSERT_FALSE(ParseApiRequest(kText, Text(R"("n":128.0,"stream":true)"), &req));
  EXPECT_EQ(req.n, kMaxChoices);
  EXPECT_TRUE(req.stream);
}

TEST(OpenAiRequestTest, MaxCompletionTokensWinsAndIntegralFloatsAreIntegers) {
  ApiRequest req;
  ASSERT_FALSE(ParseApiRequest(kChat, Chat(R"("max_tokens":10,"max_completion_tokens":5.0,"top_k":-1)"), &req));
  EXPECT_EQ(req.max_tokens, 5);
  EXPECT_EQ(req.sampling.top_k, 0);
}

TEST(OpenAiRequestTest, NegativeAndHugeSeeds) {
  ApiRequest req;
  ASSERT_FALSE(ParseApiRequest(kChat, Chat(R"("seed":-1)"), &req));
  EXPECT_EQ(req.seed, ~uint64_t{0});
  ASSERT_FALSE(ParseApiRequest(kChat, Chat(R"("seed":18446744073709551615)"), &req));
  EXPECT_EQ(req.seed, ~uint64_t{0});
}

TEST(OpenAiRequestTest, CompletionPrompts) {
  ApiRequest req;
  ASSERT_FALSE(ParseApiRequest(kText, Text(R"("logprobs":2,"stop":"x")"), &req));
  EXPECT_EQ(req.prompt_text, "hi");
  EXPECT_FALSE(req.prompt_is_tokens);
  EXPECT_TRUE(req.logprobs);
  EXPECT_EQ(req.sampling.num_logprobs, 2);
  EXPECT_EQ(req.stop, std::vector<std::string>{"x"});

  ASSERT_FALSE(ParseApiRequest(kText, R"({"model":"m","prompt":[1,2,3],"logprobs":0})", &req));
  EXPECT_TRUE(req.prompt_is_tokens);
  EXPECT_EQ(req.prompt_tokens, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_TRUE(req.logprobs);
  EXPECT_EQ(req.sampling.num_logprobs, 0);

  ASSERT_FALSE(ParseApiRequest(kText, R"({"model":"m","prompt":[[4,5]]})", &req));
  EXPECT_EQ(req.prompt_tokens, (std::vector<int32_t>{4, 5}));
  ASSERT_FALSE(ParseApiRequest(kText, R"({"model":"m","prompt":["once"]})", &req));
  EXPECT_EQ(req.prompt_text, "once");
  EXPECT_FALSE(req.prompt_is_tokens);
}

TEST(OpenAiRequestTest, StringsKeepEscapedNulAndUnicode) {
  ApiRequest req;
  ASSERT_FALSE(ParseApiRequest(
      kChat, R"({"model":"m","messages":[{"role":"user","content":"a\u0000b \u00e9 \ud83d\ude00"}]})", &req));
  EXPECT_EQ(req.messages[0].content, std::string("a\0b \xC3\xA9 \xF0\x9F\x98\x80", 11));
}

TEST(OpenAiRequestTest, FitToContext) {
  ApiRequest req;
  ASSERT_FALSE(ParseApiRequest(kChat, Chat(""), &req));
  int32_t max_tokens = 0;
  ASSERT_FALSE(FitToContext(req, 10, 100, &max_tokens));
  EXPECT_EQ(max_tokens, 90);
  ASSERT_FALSE(FitToContext(req, 10, 0, &max_tokens));
  EXPECT_EQ(max_tokens, kDefaultMaxTokensWithoutContext);

  auto full = FitToContext(req, 100, 100, &max_tokens);
  ASSERT_TRUE(full);
  EXPECT_EQ(full->http_status, 400);
  EXPECT_EQ(full->code, "context_length_exceeded");
  EXPECT_EQ(full->param, "messages");

  auto empty = FitToContext(req, 0, 100, &max_tokens);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->param, "messages");

  req.max_tokens = 91;
  auto over = FitToContext(req, 10, 100, &max_tokens);
  ASSERT_TRUE(over);
  EXPECT_EQ(over->param, "max_tokens");
  EXPECT_EQ(over->code, "context_length_exceeded");
  req.max_tokens = 90;
  ASSERT_FALSE(FitToContext(req, 10, 100, &max_tokens));
  EXPECT_EQ(max_tokens, 90);
}

TEST(OpenAiRequestTest, PromptTokensMustBeInTheVocabulary) {
  ApiRequest req;
  ASSERT_FALSE(ParseApiRequest(kText, R"({"model":"m","prompt":[1,2,300]})", &req));
  EXPECT_FALSE(CheckPromptTokens(req, 301));
  auto e = CheckPromptTokens(req, 300);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->http_status, 400);
  EXPECT_EQ(e->param, "prompt");
}

TEST(OpenAiRequestTest, DeepNestingDoesNotExhaustTheStack) {
  const std::string deep = R"({"model":"m","messages":[{"role":"user","content":"x"}],"extra":)" +
                           std::string(1'000'000, '[') + std::string(1'000'000, ']') + "}";
  ApiRequest req;
  // Every body hearthd reads has one nesting limit (64), unknown fields included.
  auto deep_error = ParseApiRequest(kChat, deep, &req);
  ASSERT_TRUE(deep_error);
  EXPECT_EQ(deep_error->http_status, 400);
  EXPECT_NE(deep_error->message.find("nested deeper than 64"), std::string::npos) << deep_error->message;
  auto error = ParseApiRequest(kChat, std::string(1'000'000, '['), &req);
  ASSERT_TRUE(error);
  EXPECT_EQ(error->http_status, 400);
  const std::string nested_ok = R"({"model":"m","messages":[{"role":"user","content":"x"}],"extra":)" +
                                std::string(60, '[') + std::string(60, ']') + "}";
  auto nested_error = ParseApiRequest(kChat, nested_ok, &req);
  ASSERT_TRUE(nested_error);
  EXPECT_EQ(nested_error->param, "extra") << "parsed; refused only as an unknown field";
}

// A lone low surrogate once passed and came back, as bytes that are not UTF-8, in the error.
TEST(OpenAiRequestTest, LoneSurrogatesAreNotValidUtf8) {
  ApiRequest req;
  for (const char* body : {R"({"model":"\udc00","messages":[{"role":"user","content":"x"}]})",
                           R"({"model":"m","messages":[{"role":"user","content":"a\ud800"}]})"}) {
    auto error = ParseApiRequest(kChat, body, &req);
    ASSERT_TRUE(error) << body;
    EXPECT_EQ(error->http_status, 400);
    EXPECT_NE(error->message.find("not valid UTF-8"), std::string::npos) << error->message;
    EXPECT_EQ(error->message.find('\xed'), std::string::npos) << "no surrogate bytes echoed";
  }
}

TEST(OpenAiRequestTest, ModelNotFound) {
  ApiError e = ModelNotFound("nope");
  EXPECT_EQ(e.http_status, 404);
  EXPECT_EQ(e.code, "model_not_found");
  EXPECT_EQ(e.param, "model");
}

}  // namespace
}  // namespace hearth::daemon
