#include "daemon/openai/request_fields.h"

#include <gtest/gtest.h>

#include <string>

namespace hearth::daemon {
namespace {

constexpr ApiEndpoint kChat = ApiEndpoint::kChatCompletions;
constexpr ApiEndpoint kText = ApiEndpoint::kCompletions;

std::optional<ApiError> Check(ApiEndpoint endpoint, const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  EXPECT_TRUE(doc.IsObject()) << json;
  return CheckRequestFields(endpoint, doc);
}

TEST(RequestFieldsTest, UnknownFieldsAreRefusedByName) {
  auto e = Check(kChat, R"({"model":"m","some_extension":{"x":1}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->http_status, 400);
  EXPECT_EQ(e->param, "some_extension");
  EXPECT_NE(e->message.find("Unrecognized request argument supplied: some_extension"), std::string::npos);
}

TEST(RequestFieldsTest, AFieldOfTheOtherEndpointIsUnknown) {
  EXPECT_EQ(Check(kChat, R"({"prompt":"x"})")->param, "prompt");
  EXPECT_EQ(Check(kText, R"({"messages":[]})")->param, "messages");
  EXPECT_EQ(Check(kText, R"({"top_logprobs":2})")->param, "top_logprobs");
  EXPECT_FALSE(Check(kText, R"({"suffix":""})"));
  EXPECT_EQ(Check(kChat, R"({"suffix":""})")->param, "suffix");
}

TEST(RequestFieldsTest, FieldsThatWorkPassWhateverTheirValue) {
  // Their values are the parser's business.
  EXPECT_FALSE(Check(kChat, R"({"model":1,"messages":2,"logit_bias":"x","min_tokens":[],"ignore_eos":3,
                                "stop_token_ids":{},"max_completion_tokens":1,"top_logprobs":1,"n":3})"));
  EXPECT_FALSE(Check(kText, R"({"model":"m","prompt":[1],"logprobs":2,"stream":true,"stream_options":{}})"));
}

TEST(RequestFieldsTest, UnimplementedFieldsPassOnlyAtTheValueThatAsksForNothing) {
  struct Case {
    ApiEndpoint endpoint;
    const char* field;
    const char* harmless;  // nullptr: no value is
    const char* refused;
  };
  const Case cases[] = {
      {kText, "best_of", "1", "2"},
      {kText, "echo", "false", "true"},
      {kChat, "echo", "false", "true"},
      {kText, "suffix", "\"\"", "\"tail\""},
      {kChat, "store", "false", "true"},
      {kChat, "metadata", nullptr, "{\"a\":\"b\"}"},
      {kChat, "service_tier", "\"auto\"", "\"flex\""},
      {kChat, "modalities", "[\"text\"]", "[\"text\",\"audio\"]"},
      {kChat, "audio", nullptr, "{}"},
      {kChat, "functions", "[]", "[{}]"},
      {kChat, "guided_json", nullptr, "{}"},
      {kChat, "guided_choice", nullptr, "[\"a\"]"},
      {kText, "use_beam_search", "false", "true"},
      {kText, "include_stop_str_in_output", "false", "true"},
      {kChat, "skip_special_tokens", "true", "false"},
      {kChat, "add_generation_prompt", "true", "false"},
      {kChat, "chat_template", nullptr, "\"{{x}}\""},
      {kText, "prompt_logprobs", "0", "1"},
      {kText, "priority", "0", "-1"},
      {kChat, "user", "\"u1\"", "7"},
  };
  // Tool calling is chat's: on completions the fields are unknown.
  for (const char* field : {"tools", "tool_choice", "parallel_tool_calls"}) {
    EXPECT_FALSE(Check(kChat, std::string("{\"") + field + "\":[]}")) << field << ": the parser checks it";
    auto e = Check(kText, std::string("{\"") + field + "\":[]}");
    ASSERT_TRUE(e) << field;
    EXPECT_EQ(e->param, field);
  }
  for (const Case& c : cases) {
    const std::string field = c.field;
    if (c.harmless) {
      EXPECT_FALSE(Check(c.endpoint, "{\"" + field + "\":" + c.harmless + "}")) << field << "=" << c.harmless;
    }
    EXPECT_FALSE(Check(c.endpoint, "{\"" + field + "\":null}")) << field << ": null means absent";
    auto e = Check(c.endpoint, "{\"" + field + "\":" + c.refused + "}");
    ASSERT_TRUE(e) << field << "=" << c.refused;
    EXPECT_EQ(e->http_status, 400);
    EXPECT_EQ(e->param, field);
    EXPECT_EQ(e->type, "invalid_request_error");
  }
}

}  // namespace
}  // namespace hearth::daemon
