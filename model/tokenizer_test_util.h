// Small synthetic vocabularies for tokenizer tests (byte-level BPE and SentencePiece).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "model/bpe.h"
#include "model/tokenizer_spec.h"
#include "model/unicode.h"

namespace hearth::model::testing {

// Ids: 0 <|endoftext|>, 1 <|im_start|>, 2 <|im_end|> (control), 3 <tool> (user-defined),
// 4..259 the 256 single bytes in byte order, then merged tokens spelling "hello" and " world".
inline TokenizerSpec ByteLevelSpec() {
  TokenizerSpec spec;
  spec.kind = TokenizerKind::kBytePair;
  spec.pre_tokenizer = "gpt2";
  spec.tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool>"};
  spec.token_types = {3, 3, 3, 4};
  for (int b = 0; b < 256; ++b) {
    spec.tokens.push_back(BytesToVocabText(std::string(1, static_cast<char>(b))));
    spec.token_types.push_back(1);
  }
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"\xC4\xA0", "w"}, {"o", "r"},
      {"\xC4\xA0w", "or"}, {"\xC4\xA0wor", "l"}, {"\xC4\xA0worl", "d"}};
  for (const auto& [l, r] : merges) {
    spec.merges.push_back({l, r});
    spec.tokens.push_back(l + r);
    spec.token_types.push_back(1);
  }
  spec.bos_id = 1;
  spec.eos_id = 2;
  return spec;
}

// <unk>, <s>, </s>, the 256 byte tokens, then pieces with scores (higher merges first).
inline TokenizerSpec SentencePieceSpec() {
  TokenizerSpec spec;
  spec.kind = TokenizerKind::kSentencePiece;
  auto add = [&](std::string text, float score, int type) {
    spec.tokens.push_back(std::move(text));
    spec.scores.push_back(score);
    spec.token_types.push_back(type);
  };
  add("<unk>", 0, 2);
  add("<s>", 0, 3);
  add("</s>", 0, 3);
  const char* hex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) add(std::string("<0x") + hex[b / 16] + hex[b % 16] + ">", 0, 6);
  for (const char* c : {"\xE2\x96\x81", "h", "e", "l", "o", "w", "r", "d"}) add(c, -10, 1);
  add("ll", -1, 1);
  add("he", -2, 1);
  add("hell", -3, 1);
  add("hello", -4, 1);
  add("\xE2\x96\x81hello", -5, 1);
  add("or", -6, 1);
  spec.unk_id = 0;
  spec.bos_id = 1;
  spec.eos_id = 2;
  spec.add_bos = true;
  return spec;
}

}  // namespace hearth::model::testing
