// ChoiceStream: n choices' engine events fanned into one OpenAI stream.
#include "daemon/api/choice_stream.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <map>

namespace hearth::daemon {
namespace {

using namespace std::chrono_literals;

rapidjson::Document Json(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str(), s.size());
  EXPECT_FALSE(d.HasParseError()) << s;
  return d;
}

TokenEvent Token(const std::string& text) {
  TokenEvent e;
  e.token.id = 7;
  e.text = text;
  return e;
}

FinishEvent Finish(const std::string& reason, int32_t completion_tokens) {
  FinishEvent f;
  EXPECT_TRUE(ParseFinishReason(reason, &f.finish_reason)) << reason;
  f.prompt_tokens = 10;
  f.completion_tokens = completion_tokens;
  return f;
}

ChunkEncoderOptions Options(bool chat, bool include_usage) {
  ChunkEncoderOptions o;
  o.chat = chat;
  o.model = "smol";
  o.created = 5;
  o.include_usage = include_usage;
  return o;
}

TEST(ChoiceStreamTest, ChatChoicesKeepTheirIndexAndShareOneUsageChunk) {
  auto stream = ChoiceStream::Create(Options(true, true), 3);
  auto s0 = stream->Sink(0), s1 = stream->Sink(1), s2 = stream->Sink(2);
  s1->OnToken(Token("B"));  // before Begin: held until the stream has its id
  EXPECT_TRUE(stream->Read(0, 0ms).events.empty());
  stream->Begin(42);
  s0->OnToken(Token("A"));
  s2->OnToken(Token("C"));
  s1->OnToken(Token("b"));
  s0->OnFinish(Finish("stop", 1));
  s2->OnToken(Token("c"));
  s2->OnFinish(Finish("length", 2));
  EXPECT_FALSE(stream->Read(0, 0ms).done) << "choice 1 has not finished";
  EXPECT_FALSE(stream->ended());
  s1->OnFinish(Finish("stop", 2));
  EXPECT_TRUE(stream->ended());

  EventsRead read = stream->Read(0, 0ms);
  ASSERT_TRUE(read.done);
  std::map<int, std::string> content, finish;
  std::map<int, int> roles;
  int usage_chunks = 0;
  for (size_t k = 0; k < read.events.size(); ++k) {
    EXPECT_EQ(read.events[k].id, k + 1);
    auto chunk = Json(read.events[k].data);
    EXPECT_STREQ(chunk["id"].GetString(), "chatcmpl-42");
    if (chunk["choices"].Empty()) {
      ++usage_chunks;
      EXPECT_EQ(k, read.events.size() - 1) << "usage comes last";
      EXPECT_EQ(chunk["usage"]["prompt_tokens"].GetInt(), 10);  // once, not per choice
      EXPECT_EQ(chunk["usage"]["completion_tokens"].GetInt(), 5);
      EXPECT_EQ(chunk["usage"]["total_tokens"].GetInt(), 15);
      continue;
    }
    ASSERT_EQ(chunk["choices"].Size(), 1u);
    const auto& choice = chunk["choices"][0];
    const int index = choice["index"].GetInt();
    if (choice["delta"].HasMember("role")) {
      ++roles[index];
      EXPECT_LT(k, 3u) << "the role chunks open the stream";
    }
    if (choice["delta"].HasMember("content")) content[index] += choice["delta"]["content"].GetString();
    if (choice["finish_reason"].IsString()) finish[index] += choice["finish_reason"].GetString();
  }
  EXPECT_EQ(usage_chunks, 1);
  EXPECT_EQ(roles, (std::map<int, int>{{0, 1}, {1, 1}, {2, 1}}));
  EXPECT_EQ(content, (std::map<int, std::string>{{0, "A"}, {1, "Bb"}, {2, "Cc"}}));
  EXPECT_EQ(finish, (std::map<int, std::string>{{0, "stop"}, {1, "stop"}, {2, "length"}}));

  // Reading on from the middle gives the rest only.
  EventsRead rest = stream->Read(read.events.size() - 1, 0ms);
  ASSERT_EQ(rest.events.size(), 1u);
  EXPECT_EQ(rest.events[0].id, read.events.size());
}

TEST(ChoiceStreamTest, CompletionsWithoutUsage) {
  auto stream = ChoiceStream::Create(Options(false, false), 2);
  stream->Begin(9);
  EXPECT_TRUE(stream->Read(0, 0ms).events.empty()) << "no role chunks for completions";
  stream->Sink(1)->OnToken(Token("x"));
  stream->Sink(1)->OnFinish(Finish("stop", 1));
  stream->Sink(0)->OnFinish(Finish("length", 0));
  EventsRead read = stream->Read(0, 0ms);
  ASSERT_TRUE(read.done);
  ASSERT_EQ(read.events.size(), 3u);
  auto text = Json(read.events[0].data);
  EXPECT_STREQ(text["id"].GetString(), "cmpl-9");
  EXPECT_STREQ(text["object"].GetString(), "text_completion");
  EXPECT_EQ(text["choices"][0]["index"].GetInt(), 1);
  EXPECT_STREQ(text["choices"][0]["text"].GetString(), "x");
  EXPECT_EQ(Json(read.events[1].data)["choices"][0]["index"].GetInt(), 1);
  EXPECT_STREQ(Json(read.events[1].data)["choices"][0]["finish_reason"].GetString(), "stop");
  EXPECT_EQ(Json(read.events[2].data)["choices"][0]["index"].GetInt(), 0);
  EXPECT_STREQ(Json(read.events[2].data)["choices"][0]["finish_reason"].GetString(), "length");
}

TEST(ChoiceStreamTest, AFailedChoiceEndsTheStreamWithItsError) {
  auto stream = ChoiceStream::Create(Options(true, true), 2);
  stream->Begin(3);
  stream->Sink(0)->OnToken(Token("a"));
  FinishEvent failed = Finish("error", 1);
  failed.status = Status::Internal("worker died");
  stream->Sink(1)->OnFinish(failed);
  EventsRead read = stream->Read(0, 0ms);
  ASSERT_TRUE(read.done);
  auto last = Json(read.events.back().data);
  ASSERT_TRUE(last.HasMember("error")) << read.events.back().data;
  EXPECT_FALSE(stream->ended()) << "choice 0 still runs: the caller cancels it";

  const size_t count = read.events.size();
  stream->Sink(0)->OnToken(Token("b"));
  stream->Sink(0)->OnFinish(Finish("cancelled", 2));
  EXPECT_EQ(stream->Read(0, 0ms).events.size(), count) << "nothing follows the error";
  EXPECT_TRUE(stream->ended());
}

}  // namespace
}  // namespace hearth::daemon
