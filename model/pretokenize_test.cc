#include "model/pretokenize.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hearth::model {
namespace {

std::vector<std::string> Split(PreTokenizer kind, std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view w : PreTokenize(kind, text)) out.emplace_back(w);
  return out;
}

using V = std::vector<std::string>;

TEST(PreTokenizeTest, Gpt2) {
  EXPECT_EQ(Split(PreTokenizer::kGpt2, "Hello world's  test\n\n 123abc"),
            (V{"Hello", " world", "'s", " ", " test", "\n\n", " 123", "abc"}));
  EXPECT_EQ(Split(PreTokenizer::kGpt2, "a  "), (V{"a", "  "}));
  EXPECT_EQ(Split(PreTokenizer::kGpt2, "x!?  ...y"), (V{"x", "!?", " ", " ...", "y"}));
  EXPECT_EQ(Split(PreTokenizer::kGpt2, "I'M"), (V{"I", "'", "M"}));  // case sensitive
  EXPECT_EQ(Split(PreTokenizer::kGpt2, "\tfoo"), (V{"\t", "foo"}));
  EXPECT_EQ(Split(PreTokenizer::kGpt2, " 中文 😀😀"), (V{" 中文", " 😀😀"}));
  EXPECT_TRUE(Split(PreTokenizer::kGpt2, "").empty());
}

TEST(PreTokenizeTest, Llama3) {
  EXPECT_EQ(Split(PreTokenizer::kLlama3, "Hello 12345 ABC'S\n\n  x"),
            (V{"Hello", " ", "123", "45", " ABC", "'S", "\n\n", " ", " x"}));
  EXPECT_EQ(Split(PreTokenizer::kLlama3, "a.\n\nb"), (V{"a", ".\n\n", "b"}));
  EXPECT_EQ(Split(PreTokenizer::kLlama3, "\tfoo"), (V{"\tfoo"}));
  EXPECT_EQ(Split(PreTokenizer::kLlama3, "x  \n y"), (V{"x", "  \n", " y"}));
}

TEST(PreTokenizeTest, Qwen2SplitsEveryDigit) {
  EXPECT_EQ(Split(PreTokenizer::kQwen2, "v12345"), (V{"v", "1", "2", "3", "4", "5"}));
}

TEST(PreTokenizeTest, SmolLmIsolatesNumbersFirst) {
  EXPECT_EQ(Split(PreTokenizer::kSmolLm, "abc 123"), (V{"abc", " ", "1", "2", "3"}));
  EXPECT_EQ(Split(PreTokenizer::kSmolLm, "x²y"), (V{"x", "²", "y"}));
  EXPECT_EQ(Split(PreTokenizer::kSmolLm, "it's 2024!"),
            (V{"it", "'s", " ", "2", "0", "2", "4", "!"}));
}

TEST(PreTokenizeTest, CoversInvalidUtf8) {
  const std::string text = "a\xFF\xFE b";
  std::string joined;
  for (std::string_view w : PreTokenize(PreTokenizer::kLlama3, text)) joined += w;
  EXPECT_EQ(joined, text);
}

TEST(PreTokenizeTest, Names) {
  EXPECT_EQ(*PreTokenizerFromName("smollm"), PreTokenizer::kSmolLm);
  EXPECT_EQ(*PreTokenizerFromName("llama-bpe"), PreTokenizer::kLlama3);
  EXPECT_EQ(PreTokenizerFromName("nope").status().code(), Status::Code::kUnimplemented);
}

}  // namespace
}  // namespace hearth::model
