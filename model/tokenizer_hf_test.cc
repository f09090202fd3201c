#include "model/tokenizer_hf.h"

#include <gtest/gtest.h>

namespace hearth::model {
namespace {

constexpr const char* kTokenizerJson = R"({
  "model": {"type": "BPE",
            "vocab": {"a": 0, "b": 1, "ab": 2, "\u0120": 3, "\u0120ab": 4, "1": 5},
            "merges": ["a b", ["\u0120", "ab"]]},
  "added_tokens": [{"id": 6, "content": "<|im_start|>", "special": true},
                   {"id": 7, "content": "<tool>", "special": false}],
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
      {"type": "Digits", "individual_digits": true}, {"type": "ByteLevel"}]}
})";

constexpr const char* kConfigJson = R"({
  "bos_token": "<|im_start|>", "eos_token": {"content": "<tool>"}, "add_bos_token": true,
  "chat_template": "{{ '<|im_start|>' }}"
})";

TEST(TokenizerHfTest, LoadsByteLevelBpe) {
  auto spec = TokenizerSpecFromHfJson(kTokenizerJson, kConfigJson);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->pre_tokenizer, "smollm");
  EXPECT_EQ(spec->chat_template, "{{ '<|im_start|>' }}");
  auto t = Tokenizer::Create(std::move(spec).value());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  const Tokenizer& tok = **t;
  EXPECT_EQ(tok.bos_id(), 6);
  EXPECT_EQ(tok.eos_id(), 7);
  EXPECT_EQ(tok.Encode("ab ab", true, false), (std::vector<int32_t>{6, 2, 4}));
  EXPECT_EQ(tok.Encode("<|im_start|><tool>11", false, true), (std::vector<int32_t>{6, 7, 5, 5}));
  EXPECT_EQ(tok.token_type(6), TokenType::kControl);
  EXPECT_EQ(tok.token_type(7), TokenType::kUserDefined);
}

TEST(TokenizerHfTest, Errors) {
  EXPECT_TRUE(TokenizerSpecFromHfJson("{", "").status().IsCorruption());
  EXPECT_TRUE(TokenizerSpecFromHfJson("{}", "").status().IsCorruption());
  EXPECT_EQ(TokenizerSpecFromHfJson(R"({"model": {"type": "Unigram"}})", "").status().code(),
            Status::Code::kUnimplemented);
  EXPECT_TRUE(TokenizerSpecFromHfJson(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 0}}})", "")
                  .status()
                  .IsCorruption());
  EXPECT_TRUE(TokenizerSpecFromHfJson(
                  R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["ab"]}})", "")
                  .status()
                  .IsCorruption());
  EXPECT_TRUE(TokenizerSpecFromHfJson(
                  R"({"model": {"type": "BPE", "vocab": {"a": 0}},
                      "added_tokens": [{"id": 99999999999, "content": "x"}]})", "")
                  .status()
                  .IsCorruption());
  EXPECT_TRUE(TokenizerSpecFromHfJson(kTokenizerJson, "[1]").status().IsCorruption());
  // Merges naming unknown tokens are caught when the tokenizer is built.
  auto spec = TokenizerSpecFromHfJson(
      R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a z"]}})", "");
  ASSERT_TRUE(spec.ok());
  EXPECT_TRUE(Tokenizer::Create(std::move(spec).value()).status().IsCorruption());
}

}  // namespace
}  // namespace hearth::model
