// Per-request sampling knobs (the OpenAI / vLLM set) and their validation.
#pragma once

#include <cstdint>

#include "common/status.h"

namespace hearth {

// Most top-n alternatives a response may ask for (OpenAI's top_logprobs limit).
inline constexpr int32_t kMaxLogprobs = 20;

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

  bool greedy() const { return temperature == 0.0f; }

  // InvalidArgument naming the first bad field and its range; NaN is always rejected.
  Status Validate() const;
};

}  // namespace hearth
