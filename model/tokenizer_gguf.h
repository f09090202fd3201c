// Builds a Tokenizer from a GGUF file's tokenizer.* metadata.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "model/gguf.h"
#include "model/tokenizer.h"
#include "model/tokenizer_spec.h"

namespace hearth::model {

// Reads tokenizer.ggml.{model,pre,tokens,scores,token_type,merges,*_token_id,add_*} and
// tokenizer.chat_template. Missing required keys are Corruption naming the key.
StatusOr<TokenizerSpec> TokenizerSpecFromGguf(const GgufFile& file);

StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFromGguf(const GgufFile& file);
StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizerFromGguf(const std::string& path);

}  // namespace hearth::model
