// Picks the next token from one row of logits: deterministic, and independent of which other
// requests share the batch, because its only randomness is the (seed, position) Philox draw.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "gpu_worker/sampler_penalties.h"
#include "sampling/sampling_params.h"

namespace hearth {

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
};

// The candidate list entry used while truncating; exposed only so the scratch can hold it.
struct SamplerCandidate {
  int32_t token;
  float logit;    // penalized, before temperature
  double weight;  // exp((logit - max) / temperature): unnormalized probability
};

// Buffers reused across calls (one per worker thread): after the first call at a given vocab
// size, Sample() allocates nothing.
struct SamplerScratch {
  std::vector<float> logits;  // [vocab] penalized, sanitized
  std::vector<SamplerCandidate> candidates;
  PenaltyScratch penalties;
};

struct SampleResult {
  int32_t token = 0;
  // log p(token) under the model's distribution after penalties, before temperature and
  // truncation (see Sample). -inf when every logit was NaN or -inf.
  float logprob = 0;
  // The params.num_logprobs most likely tokens under that same distribution, by descending
  // logprob (ties: lower id first); only the first num_top entries are set.
  std::array<TokenLogprob, kMaxLogprobs> top{};
  int32_t num_top = 0;

  std::span<const TokenLogprob> top_logprobs() const {
    return {top.data(), static_cast<size_t>(num_top)};
  }
};

// What min_tokens needs to know about the request: the model's end-of-generation ids and how
// many tokens the request generated before this one.
struct EndTokens {
  std::span<const int32_t> eos;
  int64_t num_generated = 0;
};

// Samples one token from `logits` ([vocab]) for the token at `position` (its index in the
// sequence; the RNG counter, so a replayed request draws the same numbers).
//
// Order: penalties -> logit_bias (added) -> while ends.num_generated < params.min_tokens, the
// model's end tokens (ends.eos) and params.stop_token_ids set to -inf -> sanitize (NaN -> -inf, +inf -> largest float) -> greedy: argmax, ties to
// the lowest id | otherwise temperature -> top-k -> top-p (over the top-k set, renormalized)
// -> min-p (relative to the most likely token) -> inverse-CDF draw with
// UniformDouble(seed, position) over the survivors in a canonical order.
//
// Reported logprobs are the log-softmax of the penalized (and biased, masked) logits, before temperature and
// truncation: that is the model's own distribution, which is what OpenAI and vLLM report and
// what stays comparable across requests with different sampling settings. (Truncation would
// also make every surviving logprob look inflated and the greedy one always 0.)
//
// Constrained decoding: a non-empty `allowed` holds one bit per token id (bit t of word t/64;
// sampling/grammar/token_masker.h); tokens outside it are set to -inf right after the end-token
// mask, so they are never drawn and the logprobs are those of the masked distribution.
//
// `params` must be valid: they are checked once where they enter (the daemon's API parse and
// recovery, the worker's step validation, Generator::Generate), not per token. Token ids in the
// spans must lie in [0, vocab).
SampleResult Sample(std::span<const float> logits, const SamplingParams& params,
                    std::span<const int32_t> prompt_tokens,
                    std::span<const int32_t> generated_tokens, int64_t position,
                    SamplerScratch& scratch, EndTokens ends = {},
                    std::span<const uint64_t> allowed = {});

}  // namespace hearth
