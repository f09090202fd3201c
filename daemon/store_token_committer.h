// The engine loop's TokenCommitter over the request store: one BEGIN IMMEDIATE transaction per
// iteration for every token and every end in it (store/request_store.h).
#pragma once

#include <functional>

#include "daemon/token_committer.h"
#include "store/request_store.h"

namespace hearth::daemon {

class StoreTokenCommitter final : public TokenCommitter {
 public:
  // `store` must outlive the committer. `now_ms` (unix milliseconds) is injectable for tests.
  explicit StoreTokenCommitter(store::RequestStore* store, std::function<int64_t()> now_ms = nullptr);

  Status Commit(std::span<const TokenRecord> tokens, std::span<const EndRecord> ended) override;

 private:
  store::RequestStore* const store_;
  const std::function<int64_t()> now_ms_;
};

// The store's status for an engine finish reason ("stop", "length", "cancelled", "error").
store::RequestStatus StatusOfFinish(const std::string& finish_reason);

int64_t UnixMillis();

}  // namespace hearth::daemon
