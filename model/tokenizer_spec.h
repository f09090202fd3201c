// The plain description a Tokenizer is built from, filled by a loader (GGUF, HF tokenizer.json)
// or by a test. Nothing here is trusted: Tokenizer::Create validates all of it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace hearth::model {

enum class TokenizerKind {
  kBytePair,       // GGUF "gpt2": byte-level BPE with ranked merges and a pre-tokenizer
  kSentencePiece,  // GGUF "llama": SentencePiece-style BPE by score, "▁" for spaces, <0xXX> bytes
};

// Numbered as GGUF's tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  kUndefined = 0,  // treated as normal
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,      // <|im_start|>, <s>: only matched in text when parse_special is on
  kUserDefined = 4,  // added tokens: always matched in text, always rendered
  kUnused = 5,
  kByte = 6,  // <0xXX>
};

struct TokenizerSpec {
  TokenizerKind kind = TokenizerKind::kBytePair;
  std::string pre_tokenizer = "gpt2";  // kBytePair only: a PreTokenizerFromName() name

  std::vector<std::string> tokens;  // [vocab_size] token id -> vocabulary spelling
  std::vector<float> scores;        // empty or [vocab_size]; kSentencePiece merge priorities
  std::vector<int32_t> token_types;  // empty (all normal) or [vocab_size] TokenType values
  std::vector<std::pair<std::string, std::string>> merges;  // kBytePair, by rank

  // -1 when absent.
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t eot_id = -1;  // end of turn; guessed from well-known spellings when -1
  int32_t pad_id = -1;
  int32_t unk_id = -1;

  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = true;        // kSentencePiece: prepend "▁" to text at the start
  std::optional<bool> ignore_merges;   // kBytePair: whole-word lookup first (default: llama3)

  // The model's Jinja chat template, carried for ChatTemplate; empty when the model has none.
  std::string chat_template;
};

StatusOr<TokenizerKind> TokenizerKindFromName(std::string_view name);  // "gpt2", "llama"

}  // namespace hearth::model
