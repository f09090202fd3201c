// Penalties over the request's token history; see sampler_penalties.h for the formulas.
#include "gpu_worker/sampler_penalties.h"

#include <algorithm>

#include "common/check.h"

namespace hearth {
namespace {

void CheckTokens(std::span<const int32_t> tokens, size_t vocab) {
  for (int32_t t : tokens) {
    CHECK(t >= 0 && static_cast<size_t>(t) < vocab) << "token " << t << " outside vocab " << vocab;
  }
}

float RepetitionPenalized(float logit, float penalty) {
  return logit > 0 ? logit / penalty : logit * penalty;
}

// Starts a fresh "seen" set in O(1); only on wrap-around does it clear the stamps.
uint32_t NextEpoch(PenaltyScratch& scratch) {
  if (++scratch.epoch == 0) {
    std::fill(scratch.seen_epoch.begin(), scratch.seen_epoch.end(), 0u);
    scratch.epoch = 1;
  }
  return scratch.epoch;
}

void ApplyRepetition(std::span<float> logits, float penalty, std::span<const int32_t> tokens,
                     std::vector<uint32_t>& seen, uint32_t epoch) {
  for (int32_t t : tokens) {
    if (seen[t] == epoch) continue;  // once per distinct token, however often it repeats
    seen[t] = epoch;
    logits[t] = RepetitionPenalized(logits[t], penalty);
  }
}

void ApplyFrequencyPresence(std::span<float> logits, const SamplingParams& params,
                            std::span<const int32_t> generated, std::vector<int32_t>& counts) {
  for (int32_t t : generated) ++counts[t];
  for (int32_t t : generated) {
    if (counts[t] == 0) continue;  // already applied for an earlier occurrence
    logits[t] -= static_cast<float>(counts[t]) * params.frequency_penalty + params.presence_penalty;
    counts[t] = 0;  // restores the all-zero invariant as it goes
  }
}

}  // namespace

void ApplyPenalties(std::span<float> logits, const SamplingParams& params,
                    std::span<const int32_t> prompt_tokens,
                    std::span<const int32_t> generated_tokens, PenaltyScratch& scratch) {
  const size_t vocab = logits.size();
  CheckTokens(prompt_tokens, vocab);
  CheckTokens(generated_tokens, vocab);
  if (params.repetition_penalty != 1.0f) {
    if (scratch.seen_epoch.size() != vocab) {
      scratch.seen_epoch.assign(vocab, 0u);
      scratch.epoch = 0;
    }
    const uint32_t epoch = NextEpoch(scratch);
    ApplyRepetition(logits, params.repetition_penalty, prompt_tokens, scratch.seen_epoch, epoch);
    ApplyRepetition(logits, params.repetition_penalty, generated_tokens, scratch.seen_epoch, epoch);
  }
  if (params.frequency_penalty != 0.0f || params.presence_penalty != 0.0f) {
    if (scratch.counts.size() != vocab) scratch.counts.assign(vocab, 0);
    ApplyFrequencyPresence(logits, params, generated_tokens, scratch.counts);
  }
}

}  // namespace hearth
