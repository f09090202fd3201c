#include "daemon/openai/tool_call_parser.h"

#include <gtest/gtest.h>

namespace hearth::daemon {
namespace {

using Kind = ToolDelta::Kind;

// The deltas of `text` fed in pieces of `piece` bytes (0: at once).
std::vector<ToolDelta> Scan(ToolCallFormat format, std::string_view text, size_t piece = 0) {
  ToolCallScanner scanner(format);
  std::vector<ToolDelta> out;
  if (piece == 0) piece = text.size() + 1;
  for (size_t i = 0; i < text.size(); i += piece) scanner.Feed(text.substr(i, piece), &out);
  scanner.Finish(&out);
  return out;
}

// Reassembles deltas as an OpenAI client does.
ParsedToolOutput Reassemble(const std::vector<ToolDelta>& deltas) {
  ParsedToolOutput out;
  for (const ToolDelta& d : deltas) {
    if (d.kind == Kind::kContent) out.content += d.text;
    if (d.kind == Kind::kCallStart) {
      EXPECT_EQ(d.index, static_cast<int32_t>(out.calls.size()));
      out.calls.push_back({d.text, ""});
    }
    if (d.kind == Kind::kArguments) {
      EXPECT_LT(static_cast<size_t>(d.index), out.calls.size());
      out.calls[d.index].arguments += d.text;
    }
  }
  return out;
}

TEST(ToolCallParserTest, JsonArrayGivesCallsWithArgumentsAsWritten) {
  const std::string text = R"([{"name": "get_weather", "arguments": {"city": "Paris", "days": [1, 2], "q": "a\"}"}},)"
                           "\n"
                           R"( {"name":"noop","arguments":{}}])";
  ParsedToolOutput out = ParseToolOutput(ToolCallFormat::kJsonArray, text);
  EXPECT_EQ(out.content, "");
  ASSERT_EQ(out.calls.size(), 2u);
  EXPECT_EQ(out.calls[0].name, "get_weather");
  EXPECT_EQ(out.calls[0].arguments, R"({"city": "Paris", "days": [1, 2], "q": "a\"}"})");
  EXPECT_EQ(out.calls[1].name, "noop");
  EXPECT_EQ(out.calls[1].arguments, "{}");
}

TEST(ToolCallParserTest, JsonArrayStreamedByteByByteReassemblesToTheWholeAnswer) {
  const std::string text = R"([ {"name": "f", "arguments": { "a" : {"b": [1, "x]"]} } } ])";
  const ParsedToolOutput whole = ParseToolOutput(ToolCallFormat::kJsonArray, text);
  ASSERT_EQ(whole.calls.size(), 1u);
  EXPECT_EQ(whole.calls[0].arguments, R"({ "a" : {"b": [1, "x]"]} })");
  for (size_t piece : {1, 2, 3, 7}) {
    const std::vector<ToolDelta> deltas = Scan(ToolCallFormat::kJsonArray, text, piece);
    ASSERT_FALSE(deltas.empty());
    EXPECT_EQ(deltas[0].kind, Kind::kCallStart) << piece;  // the name comes before any argument
    const ParsedToolOutput streamed = Reassemble(deltas);
    ASSERT_EQ(streamed.calls.size(), 1u);
    EXPECT_EQ(streamed.calls[0].name, "f");
    EXPECT_EQ(streamed.calls[0].arguments, whole.calls[0].arguments) << piece;
  }
}

TEST(ToolCallParserTest, JsonArrayArgumentsBeforeNameAndMissingArguments) {
  ParsedToolOutput out = ParseToolOutput(ToolCallFormat::kJsonArray, R"([{"arguments": {"x": 1}, "name": "f"}])");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].arguments, R"({"x": 1})");
  out = ParseToolOutput(ToolCallFormat::kJsonArray, R"([{"name": "g"}])");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].arguments, "{}");
}

TEST(ToolCallParserTest, JsonArrayCutShortKeepsWhatCame) {
  ParsedToolOutput out = ParseToolOutput(ToolCallFormat::kJsonArray, R"([{"name": "f", "arguments": {"x": 12)");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].arguments, R"({"x": 12)");
  EXPECT_TRUE(ParseToolOutput(ToolCallFormat::kJsonArray, R"([{"nam)").calls.empty());
}

TEST(ToolCallParserTest, HermesTagsAmongContent) {
  const std::string text =
      "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
      "<tool_call>{\"name\": \"time\", \"arguments\": {}}</tool_call>";
  for (size_t piece : {0, 1, 4}) {
    const ParsedToolOutput out = Reassemble(Scan(ToolCallFormat::kHermes, text, piece));
    EXPECT_EQ(out.content, "Let me check.") << piece;
    ASSERT_EQ(out.calls.size(), 2u) << piece;
    EXPECT_EQ(out.calls[0].name, "get_weather");
    EXPECT_EQ(out.calls[0].arguments, R"({"city":"Paris"})");
    EXPECT_EQ(out.calls[1].name, "time");
    EXPECT_EQ(out.calls[1].arguments, "{}");
  }
}

TEST(ToolCallParserTest, HermesUnparseableStaysContent) {
  const std::string text = "a <tool_call>{not json}</tool_call> b <tool_c";
  const ParsedToolOutput out = ParseToolOutput(ToolCallFormat::kHermes, text);
  EXPECT_TRUE(out.calls.empty());
  EXPECT_EQ(out.content, text);
  // A tag left open at the end still counts when its JSON is whole.
  const ParsedToolOutput open = ParseToolOutput(ToolCallFormat::kHermes, "<tool_call>{\"name\":\"f\"}");
  ASSERT_EQ(open.calls.size(), 1u);
  EXPECT_EQ(open.calls[0].arguments, "{}");
}

TEST(ToolCallParserTest, HermesPlainTextStreamsAsItComes) {
  ToolCallScanner scanner(ToolCallFormat::kHermes);
  std::vector<ToolDelta> out;
  scanner.Feed("Hello <to", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "Hello");  // the blank waits for more content; "<to" may start a tag
  scanner.Feed("day", &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "Hello <today");
}

TEST(ToolCallParserTest, BareJsonLlamaAndMistralShapes) {
  ParsedToolOutput out =
      ParseToolOutput(ToolCallFormat::kBareJson, R"( {"name": "get_weather", "parameters": {"city": "Paris"}})");
  ASSERT_EQ(out.calls.size(), 1u);
  EXPECT_EQ(out.calls[0].name, "get_weather");
  EXPECT_EQ(out.calls[0].arguments, R"({"city":"Paris"})");
  out = ParseToolOutput(ToolCallFormat::kBareJson,
                        R"([{"name": "a", "arguments": {"x": 1}}, {"name": "b", "arguments": "{\"y\":2}"}])");
  ASSERT_EQ(out.calls.size(), 2u);
  EXPECT_EQ(out.calls[1].arguments, R"({"y":2})");
  out = ParseToolOutput(ToolCallFormat::kBareJson, "The answer is 4.");
  EXPECT_TRUE(out.calls.empty());
  EXPECT_EQ(out.content, "The answer is 4.");
  out = ParseToolOutput(ToolCallFormat::kBareJson, R"({"city": "Paris"})");  // no name: content
  EXPECT_TRUE(out.calls.empty());
  EXPECT_EQ(out.content, R"({"city": "Paris"})");
}

TEST(ToolCallParserTest, FormatNamesRoundTrip) {
  for (ToolCallFormat f :
       {ToolCallFormat::kNone, ToolCallFormat::kJsonArray, ToolCallFormat::kHermes, ToolCallFormat::kBareJson}) {
    EXPECT_EQ(ParseToolCallFormat(ToolCallFormatName(f)), f);
  }
  EXPECT_FALSE(ParseToolCallFormat("xml").has_value());
  EXPECT_EQ(ToolCallId(17, 2), "call_17_2");
}

}  // namespace
}  // namespace hearth::daemon
