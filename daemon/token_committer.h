// Where the engine loop makes an iteration's output durable before anyone sees it (issue 6's
// commit rule): once per iteration it hands over every token sampled in it, for all requests,
// and every request that ended in it, and streams them only once Commit returned OK.
// StoreTokenCommitter (store_token_committer.h) writes them to SQLite in one transaction;
// unit tests run the engine without one.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace hearth::daemon {

// The generated token at `index` of a request's output (stop tokens included).
struct TokenRecord {
  struct Top {
    int32_t token = 0;
    float logprob = 0;
  };
  uint64_t request_id = 0;
  int32_t index = 0;
  int32_t token = 0;
  float logprob = 0;
  std::vector<Top> top;  // the token's top logprobs, when its request asked for them
};

// A request that ended: finish_reason "stop", "length", "cancelled" or "error".
struct EndRecord {
  uint64_t request_id = 0;
  std::string finish_reason;
  std::string error;  // for "error"
};

class TokenCommitter {
 public:
  virtual ~TokenCommitter() = default;
  // All or nothing. Called on the engine's thread only.
  virtual Status Commit(std::span<const TokenRecord> tokens, std::span<const EndRecord> ended) = 0;
};

}  // namespace hearth::daemon
