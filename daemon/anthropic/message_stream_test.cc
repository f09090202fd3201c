#include "daemon/anthropic/message_stream.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <vector>

namespace hearth::daemon {
namespace {

std::vector<std::string> Types(const std::vector<std::string>& events) {
  std::vector<std::string> types;
  for (const std::string& e : events) {
    rapidjson::Document d;
    d.Parse(e.c_str());
    EXPECT_FALSE(d.HasParseError()) << e;
    types.push_back(d["type"].GetString());
  }
  return types;
}

TokenEvent Tok(int32_t id, std::string bytes, std::string text) {
  TokenEvent t;
  t.token.id = id;
  t.token.bytes = std::move(bytes);
  t.text = std::move(text);
  return t;
}

TEST(MessageStreamTest, EventsInAnthropicOrder) {
  auto enc = MakeMessageEncoder({"smol", "", 11, {}});
  std::vector<std::string> out;
  enc->Begin(42, &out);
  enc->Token(Tok(1, "Hel", "Hel"), &out);
  enc->Token(Tok(2, "lo", ""), &out);  // held back: no event
  FinishEvent finish;
  finish.finish_reason = FinishReason::kStop;
  finish.completion_tokens = 3;
  finish.text = "lo";
  enc->Finish(finish, &out);
  EXPECT_EQ(Types(out), (std::vector<std::string>{"message_start", "content_block_start", "ping",
                                                  "content_block_delta", "content_block_delta", "content_block_stop",
                                                  "message_delta", "message_stop"}));
  rapidjson::Document start;
  start.Parse(out[0].c_str());
  EXPECT_STREQ(start["message"]["id"].GetString(), "msg_42");
  EXPECT_EQ(start["message"]["usage"]["input_tokens"].GetInt(), 11);
  rapidjson::Document delta;
  delta.Parse(out[6].c_str());
  EXPECT_STREQ(delta["delta"]["stop_reason"].GetString(), "end_turn");
  EXPECT_EQ(delta["usage"]["output_tokens"].GetInt(), 3);
}

TEST(MessageStreamTest, NamesTheStopSequenceThatEndedIt) {
  auto enc = MakeMessageEncoder({"smol", "node-a", 1, {"END", "\n\n"}});
  std::vector<std::string> out;
  enc->Begin(1, &out);
  enc->Token(Tok(1, "Paris", "Paris"), &out);
  enc->Token(Tok(2, ".\n", "."), &out);
  enc->Token(Tok(3, "\nMore", ""), &out);
  FinishEvent finish;
  finish.finish_reason = FinishReason::kStop;
  enc->Finish(finish, &out);
  rapidjson::Document delta;
  delta.Parse(out[out.size() - 2].c_str());
  EXPECT_STREQ(delta["delta"]["stop_reason"].GetString(), "stop_sequence");
  EXPECT_STREQ(delta["delta"]["stop_sequence"].GetString(), "\n\n");
  rapidjson::Document start;
  start.Parse(out[0].c_str());
  EXPECT_STREQ(start["message"]["id"].GetString(), "msg_node-a-1");
}

TEST(MessageStreamTest, UnfinishedRequestEndsWithAnErrorEvent) {
  auto enc = MakeMessageEncoder({"smol", "", 1, {}});
  std::vector<std::string> out;
  enc->Begin(1, &out);
  FinishEvent finish;
  finish.finish_reason = FinishReason::kError;
  finish.status = Status::Internal("worker died");
  enc->Finish(finish, &out);
  rapidjson::Document err;
  err.Parse(out.back().c_str());
  EXPECT_STREQ(err["type"].GetString(), "error");
  EXPECT_STREQ(err["error"]["type"].GetString(), "api_error");
  EXPECT_STREQ(err["error"]["message"].GetString(), "worker died");
}

}  // namespace
}  // namespace hearth::daemon
