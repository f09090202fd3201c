#include "sampling/stop_matcher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hearth {
namespace {

StopMatcher Make(std::vector<std::string> stops, std::vector<int32_t> tokens = {}) {
  StatusOr<StopMatcher> m = StopMatcher::Create(std::move(stops), std::move(tokens));
  CHECK(m.ok()) << m.status().ToString();
  return std::move(m).value();
}

// What a client sees for these pieces: every emitted chunk, then Finish() unless stopped.
struct Streamed {
  std::vector<std::string> chunks;
  std::string text;
  bool stopped = false;
};

Streamed Stream(StopMatcher m, const std::vector<std::string>& pieces) {
  Streamed s;
  for (const std::string& piece : pieces) {
    StopMatcherOutput out = m.Feed(piece);
    s.chunks.push_back(out.text);
    s.text += out.text;
    s.stopped = out.stopped;
    if (out.stopped) return s;
  }
  s.chunks.push_back(m.Finish());
  s.text += s.chunks.back();
  return s;
}

TEST(StopMatcherTest, WithoutStopsTextPassesStraightThrough) {
  const Streamed s = Stream(Make({}), {"Hello", ", ", "world"});
  EXPECT_EQ(s.chunks, (std::vector<std::string>{"Hello", ", ", "world", ""}));
  EXPECT_FALSE(s.stopped);
}

TEST(StopMatcherTest, StopSplitAcrossPieces) {
  const Streamed s = Stream(Make({"</s>"}), {"Hello <", "/", "s> world"});
  EXPECT_EQ(s.chunks, (std::vector<std::string>{"Hello ", "", ""}));
  EXPECT_TRUE(s.stopped);
}

TEST(StopMatcherTest, FalseStartIsReleasedOnceItCannotMatch) {
  StopMatcher m = Make({"abc"});
  EXPECT_EQ(m.Feed("xab").text, "x");
  const StopMatcherOutput out = m.Feed("d");
  EXPECT_EQ(out.text, "abd");
  EXPECT_FALSE(out.stopped);
}

TEST(StopMatcherTest, OverlappingPrefixes) {
  // "aaab" contains "aab" starting at index 1; each "a" could begin it.
  const Streamed s = Stream(Make({"aab"}), {"a", "a", "a", "b", "tail"});
  EXPECT_EQ(s.chunks, (std::vector<std::string>{"", "", "a", ""}));
  EXPECT_EQ(s.text, "a");
  EXPECT_TRUE(s.stopped);
}

TEST(StopMatcherTest, EarliestOfSeveralStopsWins) {
  EXPECT_EQ(Stream(Make({"world", "lo w"}), {"hello world"}).text, "hel");
  EXPECT_EQ(Stream(Make({"abc", "ab"}), {"xabc"}).text, "x");
  EXPECT_EQ(Stream(Make({"abc", "ab"}), {"xa", "bc"}).text, "x");
}

TEST(StopMatcherTest, EverySplitOfTheTextGivesTheSameResult) {
  const std::string text = "I think <|im_end|> and more <|im_end|>";
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); ++j) {
      const Streamed s =
          Stream(Make({"<|im_end|>", "\n\n"}), {text.substr(0, i), text.substr(i, j - i), text.substr(j)});
      ASSERT_EQ(s.text, "I think ") << i << "," << j;
      ASSERT_TRUE(s.stopped);
    }
  }
}

TEST(StopMatcherTest, MultiByteUtf8StopFedByteByByte) {
  const std::string stop = "\xE3\x80\x82";                                      // U+3002 IDEOGRAPHIC FULL STOP
  const std::string text = "\xE4\xBD\xA0\xE5\xA5\xBD" + stop + "\xE5\x86\x8D";  // 你好。再
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  const Streamed s = Stream(Make({stop}), bytes);
  EXPECT_EQ(s.text, "\xE4\xBD\xA0\xE5\xA5\xBD");
  EXPECT_TRUE(s.stopped);
  for (const std::string& chunk : s.chunks) {
    EXPECT_TRUE(chunk.empty() || chunk.size() == 3) << "a chunk split a character";
  }
}

TEST(StopMatcherTest, StopSharingALeadByteDoesNotSwallowAnotherCharacter) {
  StopMatcher m = Make({"\xC3\xA9"});  // é
  EXPECT_EQ(m.Feed("caf\xC3").text, "caf");
  const StopMatcherOutput out = m.Feed("\xA8s");  // è
  EXPECT_EQ(out.text, "\xC3\xA8s");
  EXPECT_FALSE(out.stopped);
}

TEST(StopMatcherTest, IncompleteUtf8IsHeldUntilComplete) {
  StopMatcher m = Make({});
  EXPECT_EQ(m.Feed("5 \xE2\x82").text, "5 ");
  EXPECT_EQ(m.Feed("\xAC!").text, "\xE2\x82\xAC!");  // €
  EXPECT_EQ(m.Feed("\xF0\x9F").text, "");
  EXPECT_EQ(m.Finish(), "\xF0\x9F");  // released as is when generation ends
}

TEST(StopMatcherTest, FinishReleasesTheHeldTail) {
  StopMatcher m = Make({"END"});
  EXPECT_EQ(m.Feed("the EN").text, "the ");
  EXPECT_EQ(m.Finish(), "EN");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcherTest, NothingAfterAStop) {
  StopMatcher m = Make({"\n"});
  const StopMatcherOutput out = m.Feed("one\ntwo");
  EXPECT_EQ(out.text, "one");
  EXPECT_TRUE(out.stopped);
  EXPECT_TRUE(m.stopped());
  const StopMatcherOutput later = m.Feed("three");
  EXPECT_EQ(later.text, "");
  EXPECT_TRUE(later.stopped);
  EXPECT_EQ(m.Finish(), "");
}

TEST(StopMatcherTest, StopTokens) {
  StopMatcher m = Make({}, {128009, 2, 128001});
  EXPECT_TRUE(m.IsStopToken(2));
  EXPECT_TRUE(m.IsStopToken(128001));
  EXPECT_TRUE(m.IsStopToken(128009));
  EXPECT_FALSE(m.IsStopToken(3));
  EXPECT_FALSE(Make({}).IsStopToken(2));
}

TEST(StopMatcherTest, EmptyStopStringIsRejected) {
  const StatusOr<StopMatcher> m = StopMatcher::Create({"ok", ""}, {});
  EXPECT_TRUE(m.status().IsInvalidArgument());
}

}  // namespace
}  // namespace hearth
