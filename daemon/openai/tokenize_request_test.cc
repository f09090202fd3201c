#include "daemon/openai/tokenize_request.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>

namespace hearth::daemon {
namespace {

TEST(TokenizeRequestTest, ParsesAPromptWithItsSpecialTokensChoice) {
  TokenizeRequest r;
  ASSERT_FALSE(ParseTokenizeRequest(R"({"model":"m","prompt":"hi there"})", &r));
  EXPECT_EQ(r.prompt.endpoint, ApiEndpoint::kCompletions);
  EXPECT_EQ(r.prompt.model, "m");
  EXPECT_EQ(r.prompt.prompt_text, "hi there");
  EXPECT_TRUE(r.add_special_tokens);
  ASSERT_FALSE(ParseTokenizeRequest(R"({"model":"m","prompt":"x","add_special_tokens":false})", &r));
  EXPECT_FALSE(r.add_special_tokens);
}

TEST(TokenizeRequestTest, ParsesMessagesAsChatCompletionsWould) {
  TokenizeRequest r;
  ASSERT_FALSE(ParseTokenizeRequest(
      R"({"model":"m","messages":[{"role":"developer","content":"a"},{"role":"user","content":"b"}],
          "add_generation_prompt":true})",
      &r));
  EXPECT_EQ(r.prompt.endpoint, ApiEndpoint::kChatCompletions);
  EXPECT_EQ(r.prompt.model, "m");
  ASSERT_EQ(r.prompt.messages.size(), 2u);
  EXPECT_EQ(r.prompt.messages[0].role, "system");
}

TEST(TokenizeRequestTest, BadBodiesAreRefusedNamingTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},
      {"[]", ""},
      {R"({"prompt":"x"})", "model"},
      {R"({"model":"","prompt":"x"})", "model"},
      {R"({"model":"m"})", "prompt"},
      {R"({"model":"m","prompt":"x","messages":[{"role":"user","content":"y"}]})", "prompt"},
      {R"({"model":"m","prompt":5})", "prompt"},
      {R"({"model":"m","prompt":"x","add_special_tokens":"yes"})", "add_special_tokens"},
      {R"({"model":"m","messages":[{"role":"user","content":"y"}],"add_special_tokens":true})", "add_special_tokens"},
      {R"({"model":"m","messages":[{"role":"user","content":"y"}],"add_generation_prompt":false})",
       "add_generation_prompt"},
      {R"({"model":"m","messages":[{"role":"robot","content":"y"}]})", "messages[0].role"},
      {R"({"model":"m","prompt":"x","return_token_strs":true})", "return_token_strs"},
  };
  for (const auto& [body, param] : cases) {
    TokenizeRequest r;
    auto e = ParseTokenizeRequest(body, &r);
    ASSERT_TRUE(e) << body;
    EXPECT_EQ(e->http_status, 400) << body;
    EXPECT_EQ(e->param, param) << body << ": " << e->message;
  }
}

TEST(TokenizeRequestTest, DetokenizeTakesNonNegativeIds) {
  DetokenizeRequest r;
  ASSERT_FALSE(ParseDetokenizeRequest(R"({"model":"m","tokens":[1,2,49151]})", &r));
  EXPECT_EQ(r.model, "m");
  EXPECT_EQ(r.tokens, (std::vector<int32_t>{1, 2, 49151}));
  for (const char* body : {R"({"model":"m"})", R"({"model":"m","tokens":"1 2"})", R"({"model":"m","tokens":[1,-2]})",
                           R"({"model":"m","tokens":[1.5]})", R"({"model":"m","tokens":[4294967296]})"}) {
    auto e = ParseDetokenizeRequest(body, &r);
    ASSERT_TRUE(e) << body;
    EXPECT_EQ(e->param, "tokens") << body;
  }
  EXPECT_EQ(ParseDetokenizeRequest(R"({"model":"m","tokens":[],"extra":1})", &r)->param, "extra");
}

TEST(TokenizeRequestTest, InputsLongerThanTheContextAreRefused) {
  EXPECT_FALSE(CheckTokenCount(8192, 8192, "prompt"));
  EXPECT_FALSE(CheckTokenCount(1 << 20, 0, "prompt")) << "context unknown";
  auto e = CheckTokenCount(8193, 8192, "tokens");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "tokens");
  EXPECT_EQ(e->code, "context_length_exceeded");
}

TEST(TokenizeRequestTest, AnswersInVllmsShapes) {
  rapidjson::Document d;
  d.Parse(TokenizeResponseJson({5, 6, 7}, 8192).c_str());
  ASSERT_TRUE(d.IsObject());
  ASSERT_EQ(d["tokens"].Size(), 3u);
  EXPECT_EQ(d["tokens"][2].GetInt(), 7);
  EXPECT_EQ(d["count"].GetInt(), 3);
  EXPECT_EQ(d["max_model_len"].GetInt(), 8192);
  d.Parse(DetokenizeResponseJson("caf\xc3\xa9 \"q\"").c_str());
  ASSERT_TRUE(d.IsObject());
  EXPECT_STREQ(d["prompt"].GetString(), "caf\xc3\xa9 \"q\"");
}

}  // namespace
}  // namespace hearth::daemon
