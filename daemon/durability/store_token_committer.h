// The engine loop's TokenCommitter over the request store: one BEGIN IMMEDIATE transaction per
// iteration for every token and every end in it (store/request_store.h).
#pragma once

#include <functional>
#include <optional>

#include "daemon/durability/commit_crash_point.h"
#include "daemon/engine/token_committer.h"
#include "store/request_store.h"

namespace hearth::daemon {

struct StoreCommitterOptions {
  // Unix milliseconds, injectable for tests (default: the system clock).
  std::function<int64_t()> now_ms;
  // Told each successful commit's duration in seconds (hearth_store_commit_seconds).
  std::function<void(double)> on_commit;
  // Told each failed commit (hearth_store_commit_errors_total): its requests end with the error.
  std::function<void(const Status&)> on_commit_error;
  // The crash test hook (HEARTH_TEST_CRASH_AT_COMMIT): SIGKILL at that commit.
  std::optional<CommitCrashPoint> crash_point;
};

class StoreTokenCommitter final : public TokenCommitter {
 public:
  // `store` must outlive the committer.
  explicit StoreTokenCommitter(store::RequestStore* store, StoreCommitterOptions options = {});

  Status Commit(std::span<const TokenRecord> tokens, std::span<const EndRecord> ended) override;

 private:
  store::RequestStore* const store_;
  const StoreCommitterOptions options_;
  int64_t num_commits_ = 0;  // engine thread only
};

// The store's status for an engine finish reason.
store::RequestStatus StatusOfFinish(FinishReason reason);

int64_t UnixMillis();

}  // namespace hearth::daemon
