// A generated token as the daemon carries it, from the worker's reply (or the store, on
// recovery) through commit, delivery and replay to the client's logprobs: its id, its bytes,
// its logprob and its top alternatives. Spelled once, by MakeGeneratedToken, where it enters the
// daemon; nothing downstream asks the tokenizer again, so a live token, a replayed one and a
// rebuilt one read the same.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/tokenizer.h"

namespace hearth::daemon {

// One of a token's most likely alternatives (the request's top_logprobs).
struct TokenAlternative {
  int32_t id = 0;
  std::string bytes;  // Tokenizer::TokenBytes(id)
  float logprob = 0;
};

struct GeneratedToken {
  int32_t id = 0;
  std::string bytes;  // Tokenizer::TokenBytes(id): may be part of a UTF-8 character
  float logprob = 0;
  std::vector<TokenAlternative> top;  // [num_logprobs], best first; empty unless asked for
};

// `sampled` is the worker's wire::SampledTokenInfo or the store's store::StoredToken: both carry
// {token, logprob, top: [{token, logprob}]}. Every text comes from Tokenizer::TokenBytes.
template <typename Sampled>
GeneratedToken MakeGeneratedToken(const model::Tokenizer& tokenizer, const Sampled& sampled) {
  GeneratedToken t{sampled.token, std::string(tokenizer.TokenBytes(sampled.token)), sampled.logprob, {}};
  t.top.reserve(sampled.top.size());
  for (const auto& alt : sampled.top) {
    t.top.push_back({alt.token, std::string(tokenizer.TokenBytes(alt.token)), alt.logprob});
  }
  return t;
}

}  // namespace hearth::daemon
