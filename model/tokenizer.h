// Text <-> token ids for Llama-family models: byte-level BPE (GPT-2 style: SmolLM2, Llama 3,
// Qwen2) and SentencePiece-style BPE (Llama 2, Mistral). Built from a validated TokenizerSpec;
// immutable afterwards, so one instance may be shared by many threads.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "model/bpe.h"
#include "model/chat_template.h"
#include "model/pretokenize.h"
#include "model/tokenizer_special.h"
#include "model/tokenizer_spec.h"

namespace hearth::model {

struct DecodeOptions {
  bool render_special = false;       // write control/unknown tokens' text (else skip them)
  bool strip_leading_space = false;  // SentencePiece: drop the dummy-prefix space at the start
};

class Tokenizer {
 public:
  // Validates `spec` (Corruption naming the problem for a bad vocabulary, merges or ids;
  // Unimplemented for an unknown pre-tokenizer) and builds the lookup tables.
  static StatusOr<std::unique_ptr<Tokenizer>> Create(TokenizerSpec spec);

  // Text -> ids. add_special: BOS/EOS as the spec says. parse_special: control tokens spelled in
  // the text (e.g. "<|im_start|>") become their ids; user-defined tokens always do. Invalid
  // UTF-8 never fails: each offending byte is tokenized as U+FFFD, as llama.cpp does.
  // Byte-level BPE drops bytes its vocabulary has no token for (also as llama.cpp does);
  // SentencePiece falls back to <0xXX> byte tokens, else the unknown token.
  std::vector<int32_t> Encode(std::string_view text, bool add_special, bool parse_special) const;

  // Ids -> bytes (not necessarily valid UTF-8 when ids are cut mid-character). InvalidArgument
  // for an id outside the vocabulary.
  StatusOr<std::string> Decode(std::span<const int32_t> ids, const DecodeOptions& options = {}) const;

  // Appends token `id`'s bytes as Decode renders them. *at_start is true until something has
  // been written (it drives strip_leading_space). Shared by Decode and StreamingDetokenizer.
  Status AppendPiece(int32_t id, const DecodeOptions& options, bool* at_start,
                     std::string* out) const;

  // Token `id`'s own bytes, control tokens spelled out ("<|im_end|>"): the text a generated
  // token and each of its alternatives show in logprobs. Empty for an id outside the vocabulary.
  std::string_view TokenBytes(int32_t id) const;

  int32_t vocab_size() const { return static_cast<int32_t>(tokens_.size()); }
  TokenizerKind kind() const { return kind_; }
  int32_t bos_id() const { return bos_id_; }  // -1 when the model has none
  int32_t eos_id() const { return eos_id_; }
  int32_t eot_id() const { return eot_id_; }  // end of turn (<|im_end|>, <|eot_id|>), or -1
  int32_t pad_id() const { return pad_id_; }
  int32_t unk_id() const { return unk_id_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }

  // Whether generation should stop at `id`: EOS, EOT and other end-of-text control tokens.
  bool IsEndOfGeneration(int32_t id) const;
  // Control and unknown tokens (not rendered unless DecodeOptions::render_special).
  bool IsSpecial(int32_t id) const;
  TokenType token_type(int32_t id) const;    // CHECKs the range
  const std::string& token_text(int32_t id) const;  // vocabulary spelling; CHECKs the range
  std::optional<int32_t> TokenId(std::string_view text) const;
  const std::string& chat_template() const { return chat_template_; }  // empty: none
  // The chat template, parsed once when the tokenizer is built (its eos_token is this
  // vocabulary's EOS spelling), so a request only renders it: Unimplemented when the model has
  // none, InvalidArgument when it does not parse. Rendering is const and thread-safe.
  const StatusOr<ChatTemplate>& chat() const { return chat_; }

 private:
  Tokenizer() = default;
  Status Build(TokenizerSpec spec);
  Status BuildPieces();
  Status BuildMerges(const TokenizerSpec& spec);
  void FindEndOfGenerationTokens();
  void EncodeBytePair(std::string_view text, std::vector<int32_t>* out) const;
  void EncodeSentencePiece(std::string_view text, bool at_start, std::vector<int32_t>* out) const;

  // Constant after construction.
  TokenizerKind kind_ = TokenizerKind::kBytePair;
  PreTokenizer pre_ = PreTokenizer::kGpt2;
  std::vector<std::string> tokens_;   // [vocab_size] spelling
  std::vector<TokenType> types_;      // [vocab_size]
  std::vector<float> scores_;         // [vocab_size]
  std::vector<std::string> pieces_;   // [vocab_size] bytes each token decodes to
  std::unordered_map<std::string_view, int32_t> index_;  // spelling -> id (views into tokens_)
  std::vector<SpecialToken> parse_special_;   // control+user-defined+unknown, longest first
  std::vector<SpecialToken> always_special_;  // user-defined only, longest first
  BpeMerges merges_;
  std::array<int32_t, 256> byte_tokens_{};  // byte -> token for that byte alone, or -1
  std::vector<bool> end_of_generation_;     // [vocab_size]
  int32_t bos_id_ = -1, eos_id_ = -1, eot_id_ = -1, pad_id_ = -1, unk_id_ = -1;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false, ignore_merges_ = false;
  std::string chat_template_;
  StatusOr<ChatTemplate> chat_ = Status::Unimplemented("the model has no chat template");
};

}  // namespace hearth::model
