// The chat stream of a request with tools: calls as OpenAI streams them (a first delta with
// id, type and name, then fragments of the arguments), content otherwise, and the finish.
#include "daemon/openai/chunk_encoder.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace hearth::daemon {
namespace {

std::vector<rapidjson::Document> Stream(ToolCallFormat format, const std::vector<std::string>& pieces,
                                        FinishReason reason = FinishReason::kStop) {
  auto encoder = MakeChunkEncoder({.chat = true, .model = "m", .created = 1, .tool_format = format});
  std::vector<std::string> out;
  encoder->Begin(42, &out);
  for (const std::string& p : pieces) {
    TokenEvent event;
    event.text = p;
    encoder->Token(event, &out);
  }
  FinishEvent finish;
  finish.finish_reason = reason;
  encoder->Finish(finish, &out);
  std::vector<rapidjson::Document> docs(out.size());
  for (size_t i = 0; i < out.size(); ++i) {
    docs[i].Parse(out[i].c_str());
    EXPECT_FALSE(docs[i].HasParseError()) << out[i];
  }
  return docs;
}

const rapidjson::Value& Delta(const rapidjson::Document& d) { return d["choices"][0]["delta"]; }

TEST(ChunkEncoderTest, ToolCallsStreamAsOpenAiDeltas) {
  const auto chunks = Stream(ToolCallFormat::kJsonArray,
                             {"[{\"name\": \"get_", "weather\", \"arguments\": {\"ci", "ty\": \"Paris\"}", "}]"});
  ASSERT_GE(chunks.size(), 4u);
  EXPECT_STREQ(Delta(chunks[0])["role"].GetString(), "assistant");
  // The call's first delta: index, id, type, name, empty arguments.
  const auto& first = Delta(chunks[1])["tool_calls"][0];
  EXPECT_EQ(first["index"].GetInt(), 0);
  EXPECT_STREQ(first["id"].GetString(), "call_42_0");
  EXPECT_STREQ(first["type"].GetString(), "function");
  EXPECT_STREQ(first["function"]["name"].GetString(), "get_weather");
  EXPECT_STREQ(first["function"]["arguments"].GetString(), "");
  std::string arguments;
  for (size_t i = 2; i + 1 < chunks.size(); ++i) {
    const auto& call = Delta(chunks[i])["tool_calls"][0];
    EXPECT_EQ(call["index"].GetInt(), 0);
    EXPECT_FALSE(call.HasMember("id"));
    EXPECT_FALSE(call["function"].HasMember("name"));
    arguments += call["function"]["arguments"].GetString();
  }
  EXPECT_EQ(arguments, "{\"city\": \"Paris\"}");
  EXPECT_STREQ(chunks.back()["choices"][0]["finish_reason"].GetString(), "tool_calls");
}

TEST(ChunkEncoderTest, AutoWithoutACallIsContentAndStops) {
  const auto chunks = Stream(ToolCallFormat::kHermes, {"Paris is ", "sunny", "."});
  std::string content;
  for (size_t i = 1; i + 1 < chunks.size(); ++i) content += Delta(chunks[i])["content"].GetString();
  EXPECT_EQ(content, "Paris is sunny.");
  EXPECT_STREQ(chunks.back()["choices"][0]["finish_reason"].GetString(), "stop");
}

TEST(ChunkEncoderTest, LengthStaysLength) {
  const auto chunks =
      Stream(ToolCallFormat::kJsonArray, {"[{\"name\": \"f\", \"arguments\": {\"x\""}, FinishReason::kLength);
  EXPECT_STREQ(chunks.back()["choices"][0]["finish_reason"].GetString(), "length");
}

}  // namespace
}  // namespace hearth::daemon
