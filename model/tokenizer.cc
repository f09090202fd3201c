// Tokenizer construction (validation of the untrusted spec, lookup tables), encoding and
// per-token rendering.
#include "model/tokenizer.h"

#include <algorithm>
#include <climits>
#include <cstdio>

#include "model/tokenizer_spm.h"
#include "model/unicode.h"

namespace hearth::model {
namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581 "▁"

std::string Replace(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (true) {
    const size_t at = s.find(from, pos);
    if (at == std::string_view::npos) break;
    out.append(s.substr(pos, at - pos)).append(to);
    pos = at + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

// "<0x4A>" -> 0x4A; -1 when `text` is not of that form.
int ParseByteToken(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(text[3]), lo = hex(text[4]);
  return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

std::string ByteTokenText(int b) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
  return buf;
}

Status CheckId(const char* what, int32_t id, size_t vocab_size) {
  if (id == -1 || (id >= 0 && static_cast<size_t>(id) < vocab_size)) return Status::Ok();
  return Status::Corruption(std::string(what) + " " + std::to_string(id) +
                            " is out of range (vocabulary has " + std::to_string(vocab_size) +
                            " tokens)");
}

bool IsSpecialType(TokenType t) { return t == TokenType::kControl || t == TokenType::kUnknown; }

// Spellings that end a turn or the text in the chat models we serve.
constexpr std::string_view kEotSpellings[] = {"<|eot_id|>", "<|im_end|>", "<|end|>",
                                              "<end_of_turn>", "<EOT>", "<|endoftext|>"};
constexpr std::string_view kEogSpellings[] = {"<|eot_id|>", "<|im_end|>", "<|end|>",
                                              "<end_of_turn>", "<EOT>", "<|endoftext|>",
                                              "<|eom_id|>"};

}  // namespace

StatusOr<TokenizerKind> TokenizerKindFromName(std::string_view name) {
  if (name == "gpt2") return TokenizerKind::kBytePair;
  if (name == "llama") return TokenizerKind::kSentencePiece;
  return Status::Unimplemented("unsupported tokenizer model '" + std::string(name) +
                              "' (supported: gpt2, llama)");
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::Create(TokenizerSpec spec) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  HEARTH_RETURN_IF_ERROR(t->Build(std::move(spec)));
  const std::string eos = t->eos_id_ >= 0 ? t->tokens_[static_cast<size_t>(t->eos_id_)] : "";
  t->chat_ = ChatTemplate::FromJinja(t->chat_template_, eos);
  return t;
}

Status Tokenizer::Build(TokenizerSpec spec) {
  const size_t n = spec.tokens.size();
  if (n == 0) return Status::Corruption("tokenizer vocabulary is empty");
  if (n > static_cast<size_t>(INT32_MAX)) return Status::Corruption("tokenizer vocabulary too large");
  if (!spec.scores.empty() && spec.scores.size() != n) {
    return Status::Corruption(std::to_string(spec.scores.size()) + " token scores for " +
                              std::to_string(n) + " tokens");
  }
  if (!spec.token_types.empty() && spec.token_types.size() != n) {
    return Status::Corruption(std::to_string(spec.token_types.size()) + " token types for " +
                              std::to_string(n) + " tokens");
  }
  HEARTH_RETURN_IF_ERROR(CheckId("bos token id", spec.bos_id, n));
  HEARTH_RETURN_IF_ERROR(CheckId("eos token id", spec.eos_id, n));
  HEARTH_RETURN_IF_ERROR(CheckId("eot token id", spec.eot_id, n));
  HEARTH_RETURN_IF_ERROR(CheckId("padding token id", spec.pad_id, n));
  HEARTH_RETURN_IF_ERROR(CheckId("unknown token id", spec.unk_id, n));
  if (spec.add_bos && spec.bos_id < 0) return Status::Corruption("add_bos is set but there is no bos token");
  if (spec.add_eos && spec.eos_id < 0) return Status::Corruption("add_eos is set but there is no eos token");

  kind_ = spec.kind;
  tokens_ = std::move(spec.tokens);
  scores_ = spec.scores.empty() ? std::vector<float>(n, 0.0f) : std::move(spec.scores);
  types_.assign(n, TokenType::kNormal);
  for (size_t i = 0; i < n; ++i) {
    if (!IsValidUtf8(tokens_[i])) {
      return Status::Corruption("token " + std::to_string(i) + " is not valid UTF-8");
    }
    if (spec.token_types.empty()) continue;
    const int32_t t = spec.token_types[i];
    if (t < 0 || t > static_cast<int32_t>(TokenType::kByte)) {
      return Status::Corruption("token " + std::to_string(i) + " has unknown type " + std::to_string(t));
    }
    types_[i] = t == 0 ? TokenType::kNormal : static_cast<TokenType>(t);
  }
  index_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (!tokens_[i].empty()) index_[tokens_[i]] = static_cast<int32_t>(i);  // last one wins
  }
  bos_id_ = spec.bos_id;
  eos_id_ = spec.eos_id;
  eot_id_ = spec.eot_id;
  pad_id_ = spec.pad_id;
  unk_id_ = spec.unk_id;
  add_bos_ = spec.add_bos;
  add_eos_ = spec.add_eos;
  chat_template_ = std::move(spec.chat_template);
  add_space_prefix_ = kind_ == TokenizerKind::kSentencePiece && spec.add_space_prefix;

  if (kind_ == TokenizerKind::kBytePair) {
    HEARTH_ASSIGN_OR_RETURN(pre_, PreTokenizerFromName(spec.pre_tokenizer));
    ignore_merges_ = spec.ignore_merges.value_or(pre_ == PreTokenizer::kLlama3);
    HEARTH_RETURN_IF_ERROR(BuildMerges(spec));
  } else {
    for (int b = 0; b < 256; ++b) {
      byte_tokens_[b] = TokenId(ByteTokenText(b)).value_or(-1);
    }
  }
  HEARTH_RETURN_IF_ERROR(BuildPieces());

  for (size_t i = 0; i < n; ++i) {
    const TokenType t = types_[i];
    if (tokens_[i].empty()) continue;
    const SpecialToken s{static_cast<int32_t>(i), tokens_[i]};
    if (t == TokenType::kUserDefined) always_special_.push_back(s);
    if (t == TokenType::kUserDefined || IsSpecialType(t)) parse_special_.push_back(s);
  }
  auto longest_first = [](const SpecialToken& a, const SpecialToken& b) {
    return a.text.size() != b.text.size() ? a.text.size() > b.text.size() : a.id < b.id;
  };
  std::sort(always_special_.begin(), always_special_.end(), longest_first);
  std::sort(parse_special_.begin(), parse_special_.end(), longest_first);
  FindEndOfGenerationTokens();
  return Status::Ok();
}

Status Tokenizer::BuildMerges(const TokenizerSpec& spec) {
  for (int b = 0; b < 256; ++b) {
    byte_tokens_[b] = TokenId(BytesToVocabText(std::string(1, static_cast<char>(b)))).value_or(-1);
  }
  std::string joined;
  for (size_t i = 0; i < spec.merges.size(); ++i) {
    const std::string& left = spec.merges[i].first;
    const std::string& right = spec.merges[i].second;
    auto name = [&] { return "merge " + std::to_string(i) + " ('" + left + " " + right + "')"; };
    const auto l = TokenId(left), r = TokenId(right);
    if (!l || !r) return Status::Corruption(name() + " refers to a token not in the vocabulary");
    joined = left + right;
    const auto m = TokenId(joined);
    if (!m) return Status::Corruption(name() + " makes a token not in the vocabulary");
    merges_.Add(*l, *r, *m);  // a repeated pair keeps its first (best) rank
  }
  return Status::Ok();
}

Status Tokenizer::BuildPieces() {
  pieces_.resize(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const std::string& text = tokens_[i];
    switch (types_[i]) {
      case TokenType::kNormal:
      case TokenType::kUndefined: {
        bool all_mapped = true;
        pieces_[i] = kind_ == TokenizerKind::kBytePair ? VocabTextToBytes(text, &all_mapped)
                                                       : Replace(text, kSpmSpace, " ");
        break;
      }
      case TokenType::kByte: {
        const int b = ParseByteToken(text);
        if (b < 0) {
          return Status::Corruption("byte token " + std::to_string(i) + " ('" + text +
                                    "') is not of the form <0xXX>");
        }
        pieces_[i] = std::string(1, static_cast<char>(b));
        break;
      }
      case TokenType::kUnused:
        break;  // renders as nothing
      default:
        pieces_[i] = text;  // control, unknown, user-defined: their spelling
    }
  }
  return Status::Ok();
}

void Tokenizer::FindEndOfGenerationTokens() {
  end_of_generation_.assign(tokens_.size(), false);
  auto is_marker = [&](size_t i) {
    return types_[i] == TokenType::kControl || types_[i] == TokenType::kUserDefined;
  };
  if (eot_id_ < 0) {
    for (std::string_view s : kEotSpellings) {
      auto id = TokenId(s);
      if (id && is_marker(*id)) {
        eot_id_ = *id;
        break;
      }
    }
  }
  for (std::string_view s : kEogSpellings) {
    auto id = TokenId(s);
    if (id && is_marker(*id)) end_of_generation_[*id] = true;
  }
  if (eos_id_ >= 0) end_of_generation_[eos_id_] = true;
  if (eot_id_ >= 0) end_of_generation_[eot_id_] = true;
}

std::optional<int32_t> Tokenizer::TokenId(std::string_view text) const {
  auto it = index_.find(text);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

bool Tokenizer::IsEndOfGeneration(int32_t id) const {
  return id >= 0 && id < vocab_size() && end_of_generation_[id];
}

bool Tokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < vocab_size() && IsSpecialType(types_[id]);
}

TokenType Tokenizer::token_type(int32_t id) const {
  CHECK(id >= 0 && id < vocab_size()) << "token id " << id;
  return types_[id];
}

const std::string& Tokenizer::token_text(int32_t id) const {
  CHECK(id >= 0 && id < vocab_size()) << "token id " << id;
  return tokens_[id];
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  const std::string clean = SanitizeUtf8(text);
  std::vector<int32_t> out;
  out.reserve(clean.size() / 3 + 4);
  if (add_special && add_bos_) out.push_back(bos_id_);
  bool prev_special = true;  // SentencePiece adds its dummy prefix at the start and after specials
  for (const TextFragment& f :
       SplitOnSpecialTokens(clean, parse_special ? parse_special_ : always_special_)) {
    if (f.id >= 0) {
      out.push_back(f.id);
      prev_special = true;
      continue;
    }
    if (kind_ == TokenizerKind::kBytePair) {
      EncodeBytePair(f.text, &out);
    } else {
      EncodeSentencePiece(f.text, prev_special, &out);
    }
    prev_special = false;
  }
  if (add_special && add_eos_) out.push_back(eos_id_);
  return out;
}

void Tokenizer::EncodeBytePair(std::string_view text, std::vector<int32_t>* out) const {
  std::vector<int32_t> symbols;
  for (std::string_view word : PreTokenize(pre_, text)) {
    if (ignore_merges_) {
      if (auto id = TokenId(BytesToVocabText(word))) {
        out->push_back(*id);
        continue;
      }
    }
    symbols.clear();
    for (char ch : word) symbols.push_back(byte_tokens_[static_cast<uint8_t>(ch)]);
    merges_.Apply(&symbols);
    // A byte the vocabulary cannot spell (SmolLM2 has no token for 0x04 or 0xF5..0xFF) is
    // dropped, as llama.cpp does: an unknown token (<|endoftext|> there) would be worse.
    for (int32_t id : symbols) {
      if (id >= 0) out->push_back(id);
    }
  }
}

void Tokenizer::EncodeSentencePiece(std::string_view text, bool at_start,
                                    std::vector<int32_t>* out) const {
  std::string escaped = Replace(text, " ", kSpmSpace);
  if (add_space_prefix_ && at_start) escaped.insert(0, kSpmSpace);
  const PieceScoreFn score_of = [this](std::string_view piece) -> std::optional<float> {
    auto id = TokenId(piece);
    if (!id) return std::nullopt;
    return scores_[*id];
  };
  for (std::string_view piece : SpmMerge(escaped, score_of)) {
    if (auto id = TokenId(piece)) {
      out->push_back(*id);
      continue;
    }
    for (char ch : piece) {  // byte fallback
      const int32_t b = byte_tokens_[static_cast<uint8_t>(ch)];
      if (b >= 0) {
        out->push_back(b);
      } else if (unk_id_ >= 0) {
        out->push_back(unk_id_);
      }
    }
  }
}

Status Tokenizer::AppendPiece(int32_t id, const DecodeOptions& options, bool* at_start,
                              std::string* out) const {
  if (id < 0 || id >= vocab_size()) {
    return Status::InvalidArgument("token id " + std::to_string(id) +
                                   " is out of range (vocabulary has " +
                                   std::to_string(vocab_size()) + " tokens)");
  }
  if (IsSpecialType(types_[id]) && !options.render_special) return Status::Ok();
  std::string_view piece = pieces_[id];
  if (*at_start && options.strip_leading_space && add_space_prefix_ &&
      types_[id] == TokenType::kNormal && !piece.empty() && piece[0] == ' ') {
    piece.remove_prefix(1);
  }
  if (!piece.empty()) *at_start = false;
  out->append(piece);
  return Status::Ok();
}

std::string_view Tokenizer::TokenBytes(int32_t id) const {
  if (id < 0 || id >= vocab_size()) return {};
  return pieces_[static_cast<size_t>(id)];
}

StatusOr<std::string> Tokenizer::Decode(std::span<const int32_t> ids,
                                        const DecodeOptions& options) const {
  std::string out;
  bool at_start = true;
  for (int32_t id : ids) HEARTH_RETURN_IF_ERROR(AppendPiece(id, options, &at_start, &out));
  return out;
}

}  // namespace hearth::model
