// POST /v1/embeddings in OpenAI's shapes: parsing the body and writing the answer.
// `input` is a string, an array of strings, an array of token ids, or an array of arrays of
// token ids; `encoding_format` float (default) or base64 (little-endian float32, as OpenAI
// sends it); `dimensions` only at the model's width; `pooling` (Hearth's) mean (default) or
// last; `user` accepted. Every rejection names its field.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/pooling.h"
#include "daemon/openai/openai_error.h"

namespace hearth::daemon {

// Inputs in one request, as OpenAI bounds them.
inline constexpr size_t kMaxEmbeddingInputs = 2048;

struct EmbeddingInput {
  bool is_tokens = false;
  std::string text;             // !is_tokens: not empty
  std::vector<int32_t> tokens;  // is_tokens: not empty, non-negative (the vocabulary is checked by the caller)
};

struct EmbeddingsRequest {
  std::string model;
  std::vector<EmbeddingInput> inputs;  // 1 .. kMaxEmbeddingInputs, in the answer's order
  bool base64 = false;                 // encoding_format "base64"
  std::optional<int32_t> dimensions;   // positive; the caller compares it with the model's width
  Pooling pooling = Pooling::kMean;
};

std::optional<ApiError> ParseEmbeddingsRequest(std::string_view body, EmbeddingsRequest* out);

// `values` as OpenAI's base64 encoding_format: the float32s' little-endian bytes, base64.
std::string EmbeddingBase64(std::span<const float> values);

// The answer: {"object":"list","data":[{"object":"embedding","index":i,"embedding":...}],
// "model":...,"usage":{"prompt_tokens":N,"total_tokens":N}}.
std::string EmbeddingsResponseJson(const std::string& model, const std::vector<std::vector<float>>& embeddings,
                                   bool base64, int64_t prompt_tokens);

}  // namespace hearth::daemon
