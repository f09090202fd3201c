// RapidJSON is used without iterator comparisons (clang warns on MemberIterator ==).
#include "model/tokenizer_hf.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "common/json_parse.h"
#include "common/regular_file.h"

namespace hearth::model {
namespace {

using rapidjson::Value;

Status Bad(const std::string& what) { return Status::Corruption("tokenizer.json: " + what); }

const Value* Member(const Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key)) return nullptr;
  return &v[key];
}

std::string Str(const Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

// The whole pre_tokenizer section as text, to look for the regexes and Digits splitter in it.
std::string Serialize(const Value* v) {
  if (v == nullptr) return "";
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v->Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string DetectPreTokenizer(const std::string& pre) {
  if (pre.find("\\\\p{N}{1,3}") != std::string::npos) return "llama3";
  if (pre.find("(?i:'s") != std::string::npos) return "qwen2";
  if (pre.find("\"Digits\"") != std::string::npos) return "smollm";
  return "gpt2";
}

// "A B" or ["A", "B"].
Status ParseMerge(const Value& m, size_t i, TokenizerSpec* spec) {
  if (m.IsArray() && m.Size() == 2 && m[0].IsString() && m[1].IsString()) {
    spec->merges.emplace_back(Str(m[0]), Str(m[1]));
    return Status::Ok();
  }
  if (m.IsString()) {
    const std::string s = Str(m);
    const size_t sep = s.size() < 2 ? std::string::npos : s.find(' ', 1);
    if (sep != std::string::npos && sep + 1 < s.size()) {
      spec->merges.emplace_back(s.substr(0, sep), s.substr(sep + 1));
      return Status::Ok();
    }
  }
  return Bad("merge " + std::to_string(i) + " is not a pair of tokens");
}

Status ReadVocab(const Value& model, TokenizerSpec* spec) {
  const Value* vocab = Member(model, "vocab");
  if (vocab == nullptr || !vocab->IsObject()) return Bad("model.vocab is missing");
  const size_t n = vocab->MemberCount();
  spec->tokens.assign(n, "");
  std::vector<bool> seen(n, false);
  for (const auto& kv : vocab->GetObject()) {
    if (!kv.value.IsUint() || kv.value.GetUint() >= n || seen[kv.value.GetUint()]) {
      return Bad("vocab entry '" + Str(kv.name) + "' has a bad or repeated id");
    }
    seen[kv.value.GetUint()] = true;
    spec->tokens[kv.value.GetUint()] = Str(kv.name);
  }
  spec->token_types.assign(n, static_cast<int32_t>(TokenType::kNormal));
  return Status::Ok();
}

Status ReadAddedTokens(const Value& doc, TokenizerSpec* spec) {
  const Value* added = Member(doc, "added_tokens");
  if (added == nullptr) return Status::Ok();
  if (!added->IsArray()) return Bad("added_tokens is not an array");
  for (const Value& t : added->GetArray()) {
    const Value* id = Member(t, "id");
    const Value* content = Member(t, "content");
    if (id == nullptr || !id->IsUint() || content == nullptr || !content->IsString()) {
      return Bad("an added token lacks an id or content");
    }
    const uint32_t i = id->GetUint();
    if (i > 10'000'000) return Bad("added token id " + std::to_string(i) + " is too large");
    if (i >= spec->tokens.size()) {
      spec->tokens.resize(i + 1);
      spec->token_types.resize(i + 1, static_cast<int32_t>(TokenType::kUnused));
    }
    const Value* special = Member(t, "special");
    const bool is_special = special != nullptr && special->IsBool() && special->GetBool();
    spec->tokens[i] = Str(*content);
    spec->token_types[i] =
        static_cast<int32_t>(is_special ? TokenType::kControl : TokenType::kUserDefined);
  }
  return Status::Ok();
}

// "<s>" or {"content": "<s>"}.
std::string TokenName(const Value* v) {
  if (v == nullptr) return "";
  if (v->IsString()) return Str(*v);
  const Value* c = Member(*v, "content");
  return c != nullptr && c->IsString() ? Str(*c) : "";
}

int32_t IdOf(const TokenizerSpec& spec, const std::string& text) {
  if (text.empty()) return -1;
  for (size_t i = 0; i < spec.tokens.size(); ++i) {
    if (spec.tokens[i] == text) return static_cast<int32_t>(i);
  }
  return -1;
}

Status ReadConfig(std::string_view config_json, TokenizerSpec* spec) {
  if (config_json.empty()) return Status::Ok();
  rapidjson::Document cfg;
  if (!ParseJsonObject(config_json, &cfg).ok()) {
    return Status::Corruption("tokenizer_config.json is not a JSON object");
  }
  spec->bos_id = IdOf(*spec, TokenName(Member(cfg, "bos_token")));
  spec->eos_id = IdOf(*spec, TokenName(Member(cfg, "eos_token")));
  spec->pad_id = IdOf(*spec, TokenName(Member(cfg, "pad_token")));
  spec->unk_id = IdOf(*spec, TokenName(Member(cfg, "unk_token")));
  if (const Value* v = Member(cfg, "add_bos_token"); v != nullptr && v->IsBool()) {
    spec->add_bos = v->GetBool() && spec->bos_id >= 0;
  }
  if (const Value* v = Member(cfg, "add_eos_token"); v != nullptr && v->IsBool()) {
    spec->add_eos = v->GetBool() && spec->eos_id >= 0;
  }
  if (const Value* t = Member(cfg, "chat_template")) {
    if (t->IsString()) {
      spec->chat_template = Str(*t);
    } else if (t->IsArray()) {  // [{"name": "default", "template": ...}, ...]
      for (const Value& named : t->GetArray()) {
        const Value* name = Member(named, "name");
        const Value* body = Member(named, "template");
        if (name && body && name->IsString() && body->IsString() && Str(*name) == "default") {
          spec->chat_template = Str(*body);
        }
      }
    }
  }
  return Status::Ok();
}

// tokenizer.json files run to tens of MB; far larger than any real one is refused unread.
StatusOr<std::string> ReadFile(const std::filesystem::path& path) { return ReadRegularFile(path.string(), 512u << 20); }

}  // namespace

StatusOr<TokenizerSpec> TokenizerSpecFromHfJson(std::string_view tokenizer_json,
                                                std::string_view config_json) {
  rapidjson::Document doc;
  if (Status parsed = ParseJsonObject(tokenizer_json, &doc); !parsed.ok()) return Bad(parsed.message());
  const Value* model = Member(doc, "model");
  const Value* type = model ? Member(*model, "type") : nullptr;
  if (type == nullptr || !type->IsString()) return Bad("model.type is missing");
  if (Str(*type) != "BPE") {
    return Status::Unimplemented("tokenizer.json: unsupported model type '" + Str(*type) + "'");
  }
  TokenizerSpec spec;
  const Value* byte_fallback = Member(*model, "byte_fallback");
  const bool spm = byte_fallback != nullptr && byte_fallback->IsBool() && byte_fallback->GetBool();
  spec.kind = spm ? TokenizerKind::kSentencePiece : TokenizerKind::kBytePair;
  HEARTH_RETURN_IF_ERROR(ReadVocab(*model, &spec));
  const Value* merges = Member(*model, "merges");
  if (merges != nullptr && merges->IsArray()) {
    for (size_t i = 0; i < merges->Size(); ++i) {
      HEARTH_RETURN_IF_ERROR(ParseMerge((*merges)[static_cast<rapidjson::SizeType>(i)], i, &spec));
    }
  }
  HEARTH_RETURN_IF_ERROR(ReadAddedTokens(doc, &spec));
  if (const Value* im = Member(*model, "ignore_merges"); im != nullptr && im->IsBool()) {
    spec.ignore_merges = im->GetBool();
  }
  if (spm) {
    // SentencePiece merges by score; a merge's rank is its priority.
    spec.scores.assign(spec.tokens.size(), 0.0f);
    std::unordered_map<std::string, int32_t> index;
    for (size_t i = 0; i < spec.tokens.size(); ++i) index[spec.tokens[i]] = static_cast<int32_t>(i);
    for (size_t i = 0; i < spec.merges.size(); ++i) {
      auto it = index.find(spec.merges[i].first + spec.merges[i].second);
      if (it != index.end() && spec.scores[it->second] == 0.0f) {
        spec.scores[it->second] = -static_cast<float>(i + 1);
      }
    }
    for (size_t i = 0; i < spec.tokens.size(); ++i) {
      const std::string& t = spec.tokens[i];
      if (t.size() == 6 && t.starts_with("<0x") && t.ends_with(">")) {
        spec.token_types[i] = static_cast<int32_t>(TokenType::kByte);
      }
    }
    spec.merges.clear();
  } else {
    spec.pre_tokenizer = DetectPreTokenizer(Serialize(Member(doc, "pre_tokenizer")));
  }
  HEARTH_RETURN_IF_ERROR(ReadConfig(config_json, &spec));
  return spec;
}

StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFromHfDir(const std::string& dir) {
  const std::filesystem::path base(dir);
  HEARTH_ASSIGN_OR_RETURN(std::string tok, ReadFile(base / "tokenizer.json"));
  std::string cfg;
  std::error_code ec;
  if (std::filesystem::exists(base / "tokenizer_config.json", ec)) {
    HEARTH_ASSIGN_OR_RETURN(cfg, ReadFile(base / "tokenizer_config.json"));
  }
  HEARTH_ASSIGN_OR_RETURN(TokenizerSpec spec, TokenizerSpecFromHfJson(tok, cfg));
  return Tokenizer::Create(std::move(spec));
}

}  // namespace hearth::model
