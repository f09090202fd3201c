#include "daemon/anthropic/messages_response.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace hearth::daemon {
namespace {

rapidjson::Document Json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  EXPECT_FALSE(d.HasParseError()) << text;
  return d;
}

TEST(MatchedStopSequenceTest, TheOneThatCompletesFirst) {
  EXPECT_EQ(MatchedStopSequence("Paris.\n\nMore", {"\n\n", "More"}), "\n\n");
  EXPECT_EQ(MatchedStopSequence("abcd", {"bcd", "bc"}), "bc");
  EXPECT_EQ(MatchedStopSequence("abcd", {"cd", "abcd"}), "cd");
  EXPECT_FALSE(MatchedStopSequence("Paris.", {"\n\n"}).has_value());
  EXPECT_FALSE(MatchedStopSequence("Paris.", {}).has_value());
}

TEST(MessagesResponseTest, MessageHasAnthropicShape) {
  MessageOutput out{"msg_7", "smol", "Paris \"x\"", FinishReason::kStop, std::nullopt, 12, 3};
  const auto d = Json(MessageJson(out));
  EXPECT_STREQ(d["id"].GetString(), "msg_7");
  EXPECT_STREQ(d["type"].GetString(), "message");
  EXPECT_STREQ(d["role"].GetString(), "assistant");
  ASSERT_EQ(d["content"].Size(), 1u);
  EXPECT_STREQ(d["content"][0]["type"].GetString(), "text");
  EXPECT_STREQ(d["content"][0]["text"].GetString(), "Paris \"x\"");
  EXPECT_STREQ(d["model"].GetString(), "smol");
  EXPECT_STREQ(d["stop_reason"].GetString(), "end_turn");
  EXPECT_TRUE(d["stop_sequence"].IsNull());
  EXPECT_EQ(d["usage"]["input_tokens"].GetInt(), 12);
  EXPECT_EQ(d["usage"]["output_tokens"].GetInt(), 3);
}

TEST(MessagesResponseTest, StopReasons) {
  EXPECT_STREQ(StopReason(FinishReason::kStop, std::nullopt), "end_turn");
  EXPECT_STREQ(StopReason(FinishReason::kStop, "END"), "stop_sequence");
  EXPECT_STREQ(StopReason(FinishReason::kLength, std::nullopt), "max_tokens");
  MessageOutput out{"msg_1", "m", "a", FinishReason::kStop, "END", 1, 1};
  EXPECT_STREQ(Json(MessageJson(out))["stop_sequence"].GetString(), "END");
}

TEST(MessagesResponseTest, StreamEventsCarryTheirType) {
  MessageOutput start{"msg_2", "m", "", FinishReason::kStop, std::nullopt, 5, 0};
  const auto s = Json(MessageStartEvent(start));
  EXPECT_STREQ(s["type"].GetString(), "message_start");
  EXPECT_EQ(s["message"]["content"].Size(), 0u);
  EXPECT_TRUE(s["message"]["stop_reason"].IsNull());
  EXPECT_EQ(s["message"]["usage"]["input_tokens"].GetInt(), 5);
  EXPECT_STREQ(Json(ContentBlockStartEvent())["content_block"]["type"].GetString(), "text");
  const auto delta = Json(TextDeltaEvent("a\nb"));
  EXPECT_STREQ(delta["delta"]["type"].GetString(), "text_delta");
  EXPECT_STREQ(delta["delta"]["text"].GetString(), "a\nb");
  EXPECT_EQ(delta["index"].GetInt(), 0);
  const auto md = Json(MessageDeltaEvent(FinishReason::kLength, std::nullopt, 9));
  EXPECT_STREQ(md["delta"]["stop_reason"].GetString(), "max_tokens");
  EXPECT_TRUE(md["delta"]["stop_sequence"].IsNull());
  EXPECT_EQ(md["usage"]["output_tokens"].GetInt(), 9);
  const auto err = Json(ErrorEvent({503, "cancelled", "server_error", "", ""}));
  EXPECT_STREQ(err["type"].GetString(), "error");
  EXPECT_STREQ(err["error"]["type"].GetString(), "overloaded_error");
}

TEST(MessagesResponseTest, FormatNamesTheEventByItsType) {
  EXPECT_EQ(FormatMessageEvent(PingEvent()), "event: ping\ndata: {\"type\":\"ping\"}\n\n");
  EXPECT_EQ(FormatMessageEvent(MessageStopEvent()).substr(0, 20), "event: message_stop\n");
  EXPECT_EQ(FormatMessageEvent(R"({"x":1})").substr(0, 15), "event: message\n");
}

}  // namespace
}  // namespace hearth::daemon
