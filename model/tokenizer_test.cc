#include "model/tokenizer.h"

#include <gtest/gtest.h>

#include "model/tokenizer_test_util.h"

namespace hearth::model {
namespace {

using testing::ByteLevelSpec;
using testing::SentencePieceSpec;
using Ids = std::vector<int32_t>;

std::unique_ptr<Tokenizer> Make(TokenizerSpec spec) {
  auto t = Tokenizer::Create(std::move(spec));
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

int32_t ByteId(char c) { return 4 + static_cast<uint8_t>(c); }  // in ByteLevelSpec

std::string DecodeAll(const Tokenizer& t, const Ids& ids, DecodeOptions o = {}) {
  auto s = t.Decode(ids, o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : "";
}

TEST(TokenizerTest, ByteLevelMergesAndRoundTrip) {
  auto t = Make(ByteLevelSpec());
  const int32_t hello = *t->TokenId("hello"), world = *t->TokenId("\xC4\xA0world");
  EXPECT_EQ(t->Encode("hello world", false, false), (Ids{hello, world}));
  EXPECT_EQ(t->Encode("hello!", false, false), (Ids{hello, ByteId('!')}));
  const std::string text = "Grüße, 世界! 😀\t\n  x";
  EXPECT_EQ(DecodeAll(*t, t->Encode(text, false, false)), text);
}

TEST(TokenizerTest, SpecialTokens) {
  auto t = Make(ByteLevelSpec());
  const int32_t hello = *t->TokenId("hello");
  EXPECT_EQ(t->Encode("<|im_start|>hello<|im_end|>", false, true), (Ids{1, hello, 2}));
  // Without parse_special the control token is plain text.
  const Ids plain = t->Encode("<|im_start|>", false, false);
  EXPECT_GT(plain.size(), 1u);
  EXPECT_EQ(DecodeAll(*t, plain), "<|im_start|>");
  // User-defined tokens are matched either way.
  EXPECT_EQ(t->Encode("<tool>", false, false), (Ids{3}));
  EXPECT_EQ(t->Encode("hello", true, false), (Ids{hello}));  // add_bos is off in this spec

  EXPECT_EQ(DecodeAll(*t, {1, hello, 2}), "hello");
  EXPECT_EQ(DecodeAll(*t, {1, hello, 3}, {.render_special = true}), "<|im_start|>hello<tool>");
  EXPECT_TRUE(t->IsSpecial(1));
  EXPECT_FALSE(t->IsSpecial(3));
  EXPECT_TRUE(t->IsEndOfGeneration(2));   // eos
  EXPECT_TRUE(t->IsEndOfGeneration(0));   // <|endoftext|>
  EXPECT_FALSE(t->IsEndOfGeneration(hello));
  EXPECT_EQ(t->eot_id(), 2);  // guessed from <|im_end|>
}

TEST(TokenizerTest, TokenBytesSpellsEveryTokenOnItsOwn) {
  auto t = Make(ByteLevelSpec());
  const int32_t hello = *t->TokenId("hello");
  EXPECT_EQ(t->TokenBytes(hello), "hello");
  EXPECT_EQ(t->TokenBytes(2), "<|im_end|>");  // a control token is spelled out, not skipped
  EXPECT_EQ(t->TokenBytes(3), "<tool>");
  EXPECT_EQ(t->TokenBytes(-1), "");
  EXPECT_EQ(t->TokenBytes(t->vocab_size()), "");
}

TEST(TokenizerTest, InvalidUtf8BecomesReplacementCharacters) {
  auto t = Make(ByteLevelSpec());
  const Ids ids = t->Encode("a\xFF" "b\xE4\xB8", false, false);
  EXPECT_EQ(DecodeAll(*t, ids), "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(TokenizerTest, BytesWithoutATokenAreDropped) {
  TokenizerSpec spec = ByteLevelSpec();
  spec.tokens[ByteId('\x04')] = "<no byte 4>";
  spec.unk_id = 0;  // even with an unknown token, nothing is inserted
  auto t = Make(spec);
  EXPECT_EQ(t->Encode("a\x04" "b", false, false), (Ids{ByteId('a'), ByteId('b')}));
}

TEST(TokenizerTest, DecodeRejectsOutOfRangeIds) {
  auto t = Make(ByteLevelSpec());
  EXPECT_TRUE(t->Decode(Ids{-1}).status().IsInvalidArgument());
  EXPECT_TRUE(t->Decode(Ids{t->vocab_size()}).status().IsInvalidArgument());
}

TEST(TokenizerTest, SentencePieceMergesByScoreWithByteFallback) {
  auto t = Make(SentencePieceSpec());
  auto id = [&](const char* s) { return *t->TokenId(s); };
  const Ids expected = {1, id("\xE2\x96\x81hello"), id("\xE2\x96\x81"), id("w"), id("or"),
                        id("l"), id("d")};
  EXPECT_EQ(t->Encode("hello world", true, false), expected);
  // "é" is not in the vocabulary: its two bytes.
  EXPECT_EQ(t->Encode("é", false, false),
            (Ids{id("\xE2\x96\x81"), id("<0xC3>"), id("<0xA9>")}));
  EXPECT_EQ(DecodeAll(*t, t->Encode("hello wé rld", true, false), {.strip_leading_space = true}),
            "hello wé rld");
  // The dummy prefix comes back after a special token too.
  EXPECT_EQ(t->Encode("</s>hello", false, true), (Ids{2, id("\xE2\x96\x81hello")}));
}

TEST(TokenizerTest, RejectsBadSpecs) {
  auto code_of = [](TokenizerSpec spec) { return Tokenizer::Create(std::move(spec)).status(); };
  TokenizerSpec empty;
  EXPECT_TRUE(code_of(empty).IsCorruption());

  TokenizerSpec bad_utf8 = ByteLevelSpec();
  bad_utf8.tokens[100] = "\xFF";
  EXPECT_TRUE(code_of(bad_utf8).IsCorruption());

  TokenizerSpec unknown_merge = ByteLevelSpec();
  unknown_merge.merges.push_back({"zzz", "q"});
  const Status st = code_of(unknown_merge);
  EXPECT_TRUE(st.IsCorruption());
  EXPECT_NE(st.message().find("zzz"), std::string::npos) << st.message();

  TokenizerSpec merge_result_missing = ByteLevelSpec();
  merge_result_missing.merges.push_back({"x", "y"});  // "xy" is not a token
  EXPECT_TRUE(code_of(merge_result_missing).IsCorruption());

  TokenizerSpec bad_id = ByteLevelSpec();
  bad_id.eos_id = 1 << 20;
  EXPECT_TRUE(code_of(bad_id).IsCorruption());

  TokenizerSpec bad_type = ByteLevelSpec();
  bad_type.token_types[5] = 42;
  EXPECT_TRUE(code_of(bad_type).IsCorruption());

  TokenizerSpec short_scores = SentencePieceSpec();
  short_scores.scores.pop_back();
  EXPECT_TRUE(code_of(short_scores).IsCorruption());

  TokenizerSpec bad_byte = SentencePieceSpec();
  bad_byte.tokens[3] = "<0xZZ>";
  EXPECT_TRUE(code_of(bad_byte).IsCorruption());

  TokenizerSpec bad_pre = ByteLevelSpec();
  bad_pre.pre_tokenizer = "klingon";
  EXPECT_EQ(code_of(bad_pre).code(), Status::Code::kUnimplemented);

  TokenizerSpec bos_missing = SentencePieceSpec();
  bos_missing.bos_id = -1;
  EXPECT_TRUE(code_of(bos_missing).IsCorruption());
}

TEST(TokenizerTest, ChatTemplateIsParsedWhenBuilt) {
  TokenizerSpec spec = testing::ByteLevelSpec();
  auto none = Tokenizer::Create(spec);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ((*none)->chat().status().code(), Status::Code::kUnimplemented);

  spec.chat_template = "{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}";
  auto good = Tokenizer::Create(spec);
  ASSERT_TRUE(good.ok());
  ASSERT_TRUE((*good)->chat().ok()) << (*good)->chat().status().ToString();
  const std::vector<ChatMessage> messages = {{"user", "hi"}};
  EXPECT_EQ(*(*good)->chat()->Render(messages, false), "hi<|im_end|>");  // eos_token: the EOS spelling

  spec.chat_template = "{% for m in messages %}";  // never closed
  auto bad = Tokenizer::Create(spec);
  ASSERT_TRUE(bad.ok());  // completions still work without a template
  EXPECT_EQ((*bad)->chat().status().code(), Status::Code::kInvalidArgument);
}

TEST(TokenizerTest, IgnoreMergesUsesWholeWordTokens) {
  TokenizerSpec spec = ByteLevelSpec();
  spec.tokens.push_back("abc");  // reachable only as a whole word
  spec.token_types.push_back(1);
  spec.ignore_merges = true;
  auto t = Make(spec);
  EXPECT_EQ(t->Encode("abc", false, false), (Ids{*t->TokenId("abc")}));
  spec.ignore_merges = false;
  auto u = Make(spec);
  EXPECT_EQ(u->Encode("abc", false, false), (Ids{ByteId('a'), ByteId('b'), ByteId('c')}));
}

}  // namespace
}  // namespace hearth::model
