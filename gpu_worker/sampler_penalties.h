// Repetition, frequency and presence penalties applied to one row of logits.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "sampling/sampling_params.h"

namespace hearth {

// Per-vocabulary bookkeeping reused across calls so a call allocates nothing once warm.
// Invariant between calls: every `counts` entry is zero.
struct PenaltyScratch {
  std::vector<int32_t> counts;       // [vocab] occurrences among generated tokens
  std::vector<uint32_t> seen_epoch;  // [vocab] == epoch once a token got the repetition penalty
  uint32_t epoch = 0;
};

// In place, in this order:
//  1. repetition (HF / llama.cpp): each distinct token of prompt + generated has a positive
//     logit divided by the penalty and a negative one multiplied by it;
//  2. frequency and presence (OpenAI): logit -= count * frequency + (count > 0) * presence,
//     counting generated tokens only, so a long prompt does not penalize its own vocabulary.
// Token ids must lie in [0, logits.size()).
void ApplyPenalties(std::span<float> logits, const SamplingParams& params,
                    std::span<const int32_t> prompt_tokens,
                    std::span<const int32_t> generated_tokens, PenaltyScratch& scratch);

}  // namespace hearth
