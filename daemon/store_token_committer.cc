#include "daemon/store_token_committer.h"

#include <chrono>
#include <vector>

namespace hearth::daemon {

int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

store::RequestStatus StatusOfFinish(const std::string& finish_reason) {
  if (finish_reason == "cancelled") return store::RequestStatus::kCancelled;
  if (finish_reason == "error") return store::RequestStatus::kFailed;
  return store::RequestStatus::kFinished;
}

StoreTokenCommitter::StoreTokenCommitter(store::RequestStore* store, std::function<int64_t()> now_ms)
    : store_(store), now_ms_(now_ms ? std::move(now_ms) : std::function<int64_t()>(UnixMillis)) {}

Status StoreTokenCommitter::Commit(std::span<const TokenRecord> tokens, std::span<const EndRecord> ended) {
  std::vector<store::TokenCommit> rows;
  rows.reserve(tokens.size());
  for (const TokenRecord& t : tokens) rows.push_back({t.request_id, t.index, t.token, t.logprob});
  std::vector<store::StatusChange> changes;
  changes.reserve(ended.size());
  for (const EndRecord& e : ended) {
    const store::RequestStatus status = StatusOfFinish(e.finish_reason);
    changes.push_back(
        {e.request_id, status, status == store::RequestStatus::kFinished ? e.finish_reason : "", e.error});
  }
  return store_->Commit(rows, changes, now_ms_());
}

}  // namespace hearth::daemon
