#include "model/tokenizer_gguf.h"

#include <climits>

namespace hearth::model {
namespace {

Status Missing(std::string_view key) {
  return Status::Corruption("GGUF tokenizer: missing key '" + std::string(key) + "'");
}

// An optional token id: -1 when absent, Corruption when it does not fit an int32.
StatusOr<int32_t> OptionalId(const GgufFile& f, std::string_view key) {
  if (!f.Has(key)) return -1;
  HEARTH_ASSIGN_OR_RETURN(int64_t v, f.GetInt(key));
  if (v < -1 || v > INT32_MAX) {
    return Status::Corruption("GGUF tokenizer: '" + std::string(key) + "' = " + std::to_string(v) +
                              " is not a token id");
  }
  return static_cast<int32_t>(v);
}

StatusOr<bool> OptionalBool(const GgufFile& f, std::string_view key, bool fallback) {
  if (!f.Has(key)) return fallback;
  return f.GetBool(key);
}

// "Ġ t" -> {"Ġ", "t"}. The separator is the first space after the first character, so a
// left side that is itself a space (non-byte-level vocabularies) still parses.
Status ParseMerges(const std::vector<std::string>& merges, TokenizerSpec* spec) {
  spec->merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& m = merges[i];
    const size_t sep = m.size() < 2 ? std::string::npos : m.find(' ', 1);
    if (sep == std::string::npos || sep + 1 >= m.size()) {
      return Status::Corruption("GGUF tokenizer: merge " + std::to_string(i) + " ('" + m +
                                "') is not two tokens separated by a space");
    }
    spec->merges.emplace_back(m.substr(0, sep), m.substr(sep + 1));
  }
  return Status::Ok();
}

StatusOr<TokenizerSpec> ReadSpec(const GgufFile& f) {
  TokenizerSpec spec;
  if (!f.Has("tokenizer.ggml.model")) return Missing("tokenizer.ggml.model");
  HEARTH_ASSIGN_OR_RETURN(std::string model, f.GetString("tokenizer.ggml.model"));
  HEARTH_ASSIGN_OR_RETURN(spec.kind, TokenizerKindFromName(model));
  const bool bpe = spec.kind == TokenizerKind::kBytePair;
  if (f.Has("tokenizer.ggml.pre")) {
    HEARTH_ASSIGN_OR_RETURN(spec.pre_tokenizer, f.GetString("tokenizer.ggml.pre"));
  }
  if (!f.Has("tokenizer.ggml.tokens")) return Missing("tokenizer.ggml.tokens");
  HEARTH_ASSIGN_OR_RETURN(spec.tokens, f.GetStringArray("tokenizer.ggml.tokens"));
  if (f.Has("tokenizer.ggml.scores")) {
    HEARTH_ASSIGN_OR_RETURN(spec.scores, f.GetFloatArray("tokenizer.ggml.scores"));
  }
  if (f.Has("tokenizer.ggml.token_type")) {
    HEARTH_ASSIGN_OR_RETURN(std::vector<int64_t> types, f.GetIntArray("tokenizer.ggml.token_type"));
    spec.token_types.reserve(types.size());
    for (int64_t t : types) {
      // Out-of-range values are reported by Tokenizer::Create; keep them out of range here.
      spec.token_types.push_back(t < 0 || t > 1000 ? 1000 : static_cast<int32_t>(t));
    }
  }
  if (bpe && f.Has("tokenizer.ggml.merges")) {
    HEARTH_ASSIGN_OR_RETURN(std::vector<std::string> merges, f.GetStringArray("tokenizer.ggml.merges"));
    HEARTH_RETURN_IF_ERROR(ParseMerges(merges, &spec));
  }
  HEARTH_ASSIGN_OR_RETURN(spec.bos_id, OptionalId(f, "tokenizer.ggml.bos_token_id"));
  HEARTH_ASSIGN_OR_RETURN(spec.eos_id, OptionalId(f, "tokenizer.ggml.eos_token_id"));
  HEARTH_ASSIGN_OR_RETURN(spec.eot_id, OptionalId(f, "tokenizer.ggml.eot_token_id"));
  HEARTH_ASSIGN_OR_RETURN(spec.pad_id, OptionalId(f, "tokenizer.ggml.padding_token_id"));
  HEARTH_ASSIGN_OR_RETURN(spec.unk_id, OptionalId(f, "tokenizer.ggml.unknown_token_id"));
  // Defaults as llama.cpp: SentencePiece models add BOS and a dummy prefix unless told not to.
  HEARTH_ASSIGN_OR_RETURN(spec.add_bos, OptionalBool(f, "tokenizer.ggml.add_bos_token", !bpe));
  HEARTH_ASSIGN_OR_RETURN(spec.add_eos, OptionalBool(f, "tokenizer.ggml.add_eos_token", false));
  HEARTH_ASSIGN_OR_RETURN(spec.add_space_prefix,
                          OptionalBool(f, "tokenizer.ggml.add_space_prefix", !bpe));
  if (spec.add_bos && spec.bos_id < 0) spec.add_bos = false;  // nothing to add
  if (f.Has("tokenizer.chat_template")) {
    HEARTH_ASSIGN_OR_RETURN(spec.chat_template, f.GetString("tokenizer.chat_template"));
  }
  return spec;
}

}  // namespace

StatusOr<TokenizerSpec> TokenizerSpecFromGguf(const GgufFile& file) {
  auto spec = ReadSpec(file);
  if (!spec.ok()) return spec.status().WithContext("loading tokenizer");
  return spec;
}

StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFromGguf(const GgufFile& file) {
  HEARTH_ASSIGN_OR_RETURN(TokenizerSpec spec, TokenizerSpecFromGguf(file));
  auto tokenizer = Tokenizer::Create(std::move(spec));
  if (!tokenizer.ok()) return tokenizer.status().WithContext("loading tokenizer");
  return tokenizer;
}

StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFromGguf(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> file, GgufFile::Open(path));
  return LoadTokenizerFromGguf(*file);
}

}  // namespace hearth::model
