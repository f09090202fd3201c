// Pre-tokenizers: split text into words before byte-level BPE, hand-written equivalents of the
// split regexes that GPT-2-style tokenizers declare (no std::regex: it is slow and has no \p{..}).
#pragma once

#include <string_view>
#include <vector>

#include "common/status.h"

namespace hearth::model {

enum class PreTokenizer {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kGpt2,
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
  // \s*[\r\n]+|\s+(?!\S)|\s+
  kLlama3,
  // As kLlama3 but numbers split into single digits: \p{N} instead of \p{N}{1,3}.
  kQwen2,
  // SmolLM2, StarCoder: every \p{N} code point is its own piece first, then kGpt2 on the rest.
  kSmolLm,
};

// Maps a GGUF `tokenizer.ggml.pre` name ("gpt2", "llama-bpe", "qwen2", "smollm", ...) to a
// pre-tokenizer; Unimplemented for names we do not support.
StatusOr<PreTokenizer> PreTokenizerFromName(std::string_view name);
const char* PreTokenizerName(PreTokenizer kind);

// Splits valid UTF-8 `text` into words: views into `text`, in order, covering all of it.
// Invalid UTF-8 bytes count as U+FFFD (a symbol) for classification.
std::vector<std::string_view> PreTokenize(PreTokenizer kind, std::string_view text);

}  // namespace hearth::model
