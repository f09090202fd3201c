// Builds a TokenizerSpec from Hugging Face files: tokenizer.json (vocabulary, merges, added
// tokens, pre-tokenizer) and optionally tokenizer_config.json (bos/eos, add_bos, chat_template).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "model/tokenizer.h"
#include "model/tokenizer_spec.h"

namespace hearth::model {

// `config_json` may be empty. Only BPE models are supported (Unimplemented otherwise); the
// pre-tokenizer is recognised from the split regex (GPT-2, Llama 3, Qwen2, SmolLM digits).
StatusOr<TokenizerSpec> TokenizerSpecFromHfJson(std::string_view tokenizer_json,
                                                std::string_view config_json);

// Reads <dir>/tokenizer.json and, when present, <dir>/tokenizer_config.json.
StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFromHfDir(const std::string& dir);

}  // namespace hearth::model
