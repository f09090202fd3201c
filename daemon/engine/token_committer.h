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
#include "daemon/engine/finish_reason.h"
#include "daemon/engine/generated_token.h"

namespace hearth::daemon {

// The generated token at `index` of a request's output (stop tokens included).
struct TokenRecord {
  uint64_t request_id = 0;
  int32_t index = 0;
  GeneratedToken token;  // its top alternatives when its request asked for them
};

// A request that ended.
struct EndRecord {
  uint64_t request_id = 0;
  FinishReason reason = FinishReason::kStop;
  std::string error;  // for kError
};

class TokenCommitter {
 public:
  virtual ~TokenCommitter() = default;
  // All or nothing. Called on the engine's thread only.
  virtual Status Commit(std::span<const TokenRecord> tokens, std::span<const EndRecord> ended) = 0;
};

}  // namespace hearth::daemon
