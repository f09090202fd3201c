#include "daemon/anthropic/messages_request.h"

#include <gtest/gtest.h>

#include <string>

namespace hearth::daemon {
namespace {

MessagesRequest Parse(const std::string& body) {
  MessagesRequest out;
  auto e = ParseMessagesRequest(body, &out);
  EXPECT_FALSE(e.has_value()) << body << " -> " << (e ? e->message : "");
  return out;
}

ApiError Refuse(const std::string& body) {
  MessagesRequest out;
  auto e = ParseMessagesRequest(body, &out);
  EXPECT_TRUE(e.has_value()) << body;
  return e.value_or(ApiError{});
}

TEST(MessagesRequestTest, MinimalRequest) {
  const MessagesRequest m = Parse(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(m.request.model, "m");
  EXPECT_EQ(m.request.max_tokens, 5);
  ASSERT_EQ(m.request.messages.size(), 1u);
  EXPECT_EQ(m.request.messages[0].role, "user");
  EXPECT_EQ(m.request.messages[0].content, "hi");
  EXPECT_EQ(m.request.endpoint, ApiEndpoint::kChatCompletions);
  EXPECT_EQ(m.request.n, 1);
  EXPECT_FALSE(m.request.stream);
  EXPECT_FALSE(m.request.seed.has_value());
  EXPECT_TRUE(m.prefill.empty());
}

TEST(MessagesRequestTest, SystemBlocksTurnsAndFields) {
  const MessagesRequest m = Parse(R"({"model":"m","max_tokens":9,
    "system":[{"type":"text","text":"Be "},{"type":"text","text":"brief.","cache_control":{"type":"ephemeral"}}],
    "messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]},
                {"role":"assistant","content":"Hello"},
                {"role":"user","content":"Capital of France?"}],
    "stop_sequences":["\n\n","END"],"temperature":0,"top_p":0.5,"top_k":40,"stream":true,
    "metadata":{"user_id":"u-1"}})");
  ASSERT_EQ(m.request.messages.size(), 4u);
  EXPECT_EQ(m.request.messages[0].role, "system");
  EXPECT_EQ(m.request.messages[0].content, "Be brief.");
  EXPECT_EQ(m.request.messages[2].role, "assistant");
  EXPECT_EQ(m.request.messages[3].content, "Capital of France?");
  EXPECT_EQ(m.request.stop, (std::vector<std::string>{"\n\n", "END"}));
  EXPECT_EQ(m.stop_sequences, m.request.stop);
  EXPECT_EQ(m.request.sampling.temperature, 0.0f);
  EXPECT_EQ(m.request.sampling.top_p, 0.5f);
  EXPECT_EQ(m.request.sampling.top_k, 40);
  EXPECT_TRUE(m.request.stream);
}

TEST(MessagesRequestTest, FinalAssistantTurnIsThePrefill) {
  const MessagesRequest m = Parse(R"({"model":"m","max_tokens":5,"messages":[
    {"role":"user","content":"Count"},{"role":"assistant","content":[{"type":"text","text":"1, 2,"}]}]})");
  ASSERT_EQ(m.request.messages.size(), 1u);
  EXPECT_EQ(m.prefill, "1, 2,");
}

TEST(MessagesRequestTest, NullMeansAbsent) {
  const MessagesRequest m = Parse(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],
    "system":null,"stop_sequences":null,"temperature":null,"tools":null,"metadata":{"user_id":null}})");
  EXPECT_EQ(m.request.messages.size(), 1u);
  EXPECT_EQ(m.request.sampling.temperature, 1.0f);
}

TEST(MessagesRequestTest, RefusesWhatItCannotServeByName) {
  const std::string turns = R"("messages":[{"role":"user","content":"x"}])";
  for (const char* field : {"tools", "tool_choice", "thinking"}) {
    const ApiError e = Refuse(std::string(R"({"model":"m","max_tokens":5,)") + turns + ",\"" + field + "\":{}}");
    EXPECT_EQ(e.param, field);
    EXPECT_NE(e.message.find(field), std::string::npos) << e.message;
  }
  for (const char* type : {"image", "tool_use", "tool_result", "document"}) {
    const std::string head = R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":")";
    const ApiError e = Refuse(head + type + R"("}]}]})");
    EXPECT_EQ(e.http_status, 400);
    EXPECT_NE(e.message.find(type), std::string::npos) << e.message;
  }
  EXPECT_EQ(Refuse(R"({"model":"m","max_tokens":5,"seed":1,)" + turns + "}").param, "seed");
}

TEST(MessagesRequestTest, RefusesBadInput) {
  const std::string ok_turns = R"("messages":[{"role":"user","content":"x"}])";
  struct Case {
    std::string body;
    std::string param;
  };
  const Case cases[] = {
      {"", ""},
      {"[1]", ""},
      {"{\"model\":", ""},
      {R"({"max_tokens":5,)" + ok_turns + "}", "model"},
      {R"({"model":"","max_tokens":5,)" + ok_turns + "}", "model"},
      {R"({"model":"m",)" + ok_turns + "}", "max_tokens"},
      {R"({"model":"m","max_tokens":0,)" + ok_turns + "}", "max_tokens"},
      {R"({"model":"m","max_tokens":1.5,)" + ok_turns + "}", "max_tokens"},
      {R"({"model":"m","max_tokens":"5",)" + ok_turns + "}", "max_tokens"},
      {R"({"model":"m","max_tokens":1e300,)" + ok_turns + "}", "max_tokens"},
      {R"({"model":"m","max_tokens":5})", "messages"},
      {R"({"model":"m","max_tokens":5,"messages":[]})", "messages"},
      {R"({"model":"m","max_tokens":5,"messages":{}})", "messages"},
      {R"({"model":"m","max_tokens":5,"messages":[1]})", "messages[0]"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"system","content":"x"}]})", "messages[0].role"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":"x"}]})", "messages[0].role"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]})",
       "messages[1].role"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user"}]})", "messages[0].content"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":""}]})", "messages[0].content"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":7}]})", "messages[0].content"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text"}]}]})",
       "messages[0].content[0].text"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"text":"x"}]}]})",
       "messages[0].content[0].type"},
      {R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x","name":"n"}]})", "messages[0]"},
      {R"({"model":"m","max_tokens":5,"system":5,)" + ok_turns + "}", "system"},
      {R"({"model":"m","max_tokens":5,"system":[{"type":"image"}],)" + ok_turns + "}", "system[0].type"},
      {R"({"model":"m","max_tokens":5,"stop_sequences":"x",)" + ok_turns + "}", "stop_sequences"},
      {R"({"model":"m","max_tokens":5,"stop_sequences":[""],)" + ok_turns + "}", "stop_sequences"},
      {R"({"model":"m","max_tokens":5,"stop_sequences":[1],)" + ok_turns + "}", "stop_sequences"},
      {R"({"model":"m","max_tokens":5,"temperature":1.5,)" + ok_turns + "}", "temperature"},
      {R"({"model":"m","max_tokens":5,"temperature":-0.1,)" + ok_turns + "}", "temperature"},
      {R"({"model":"m","max_tokens":5,"temperature":"hot",)" + ok_turns + "}", "temperature"},
      {R"({"model":"m","max_tokens":5,"top_p":0,)" + ok_turns + "}", "top_p"},
      {R"({"model":"m","max_tokens":5,"top_p":2,)" + ok_turns + "}", "top_p"},
      {R"({"model":"m","max_tokens":5,"top_k":-1,)" + ok_turns + "}", "top_k"},
      {R"({"model":"m","max_tokens":5,"stream":"yes",)" + ok_turns + "}", "stream"},
      {R"({"model":"m","max_tokens":5,"metadata":[],)" + ok_turns + "}", "metadata"},
      {R"({"model":"m","max_tokens":5,"metadata":{"user_id":5},)" + ok_turns + "}", "metadata.user_id"},
      {R"({"model":"m","max_tokens":5,"metadata":{"session":"x"},)" + ok_turns + "}", "metadata"},
  };
  for (const Case& c : cases) {
    const ApiError e = Refuse(c.body);
    EXPECT_EQ(e.http_status, 400) << c.body;
    EXPECT_EQ(e.type, "invalid_request_error") << c.body;
    EXPECT_EQ(e.param, c.param) << c.body << " -> " << e.message;
  }
}

TEST(MessagesRequestTest, BoundsStopSequences) {
  std::string many = "[";
  for (int i = 0; i < 65; ++i) many += (i ? ",\"s" : "\"s") + std::to_string(i) + "\"";
  many += "]";
  EXPECT_EQ(Refuse(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"stop_sequences":)" +
                   many + "}")
                .param,
            "stop_sequences");
  const std::string longest(257, 'a');
  EXPECT_EQ(Refuse(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],"stop_sequences":[")" +
                   longest + "\"]}")
                .param,
            "stop_sequences");
}

TEST(MessagesRequestTest, LongUnknownNamesAreCutInErrors) {
  const std::string name(10000, 'k');
  const std::string head = R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"x"}],")";
  const ApiError e = Refuse(head + name + "\":1}");
  EXPECT_LT(e.message.size(), 200u);
}

}  // namespace
}  // namespace hearth::daemon
