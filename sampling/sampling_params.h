// Per-request sampling knobs (the OpenAI / vLLM set) and their validation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace hearth {

// Most top-n alternatives a response may ask for (OpenAI's top_logprobs limit).
inline constexpr int32_t kMaxLogprobs = 20;
// Most logit_bias entries a request may give (OpenAI documents no limit; this bounds the
// per-token work and the wire size).
inline constexpr size_t kMaxLogitBias = 300;
// The bound of a logit_bias value, either sign (OpenAI's range).
inline constexpr float kMaxLogitBiasValue = 100.0f;
// Most bytes of a grammar (the text in SamplingParams::grammar).
inline constexpr size_t kMaxGrammarBytes = 256 * 1024;
// Most stop_token_ids a request may give.
inline constexpr size_t kMaxStopTokenIds = 64;

// One logit_bias entry: `bias` is added to the token's logit before sampling.
struct LogitBias {
  int32_t token = 0;
  float bias = 0;
  bool operator==(const LogitBias&) const = default;
};

struct SamplingParams {
  float temperature = 1.0f;         // 0 = greedy
  int32_t top_k = 0;                // 0 = off
  float top_p = 1.0f;               // 1 = off
  float min_p = 0.0f;               // 0 = off
  float repetition_penalty = 1.0f;  // 1 = off; over prompt + generated tokens
  float frequency_penalty = 0.0f;   // over generated tokens only
  float presence_penalty = 0.0f;    // over generated tokens only
  uint64_t seed = 0;                // the caller picks a fresh one when the client gives none
  int32_t num_logprobs = 0;         // top-n alternatives, 0..kMaxLogprobs
  // By ascending token, each token once, at most kMaxLogitBias; biases in [-100, 100]. Token
  // ids are checked against the vocabulary where the model is known.
  std::vector<LogitBias> logit_bias;
  // The model's end-of-generation tokens and stop_token_ids cannot be sampled until this many
  // tokens were generated.
  int32_t min_tokens = 0;
  // The model's end-of-generation tokens do not end the request (stop_token_ids still do).
  bool ignore_eos = false;
  // Sampling one of these ends the request with "stop"; at most kMaxStopTokenIds.
  std::vector<int32_t> stop_token_ids;
  // Constrained decoding: the generated text must follow this grammar (the syntax of
  // sampling/grammar/gbnf_parser.h; response_format compiles to it). Empty = unconstrained.
  // The API parses it before the request is accepted; the worker compiles it once per text.
  std::string grammar;

  bool greedy() const { return temperature == 0.0f; }

  // InvalidArgument naming the first bad field and its range; NaN is always rejected.
  Status Validate() const;
};

// The token ids that end a request with these params: stop_token_ids, plus the model's
// end-of-generation ids `model_eos` unless ignore_eos. Sorted, each once.
std::vector<int32_t> RequestEndTokens(const SamplingParams& params, const std::vector<int32_t>& model_eos);

}  // namespace hearth
