#include "daemon/durability/store_token_committer.h"

#include <chrono>
#include <vector>

namespace hearth::daemon {

int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

store::RequestStatus StatusOfFinish(FinishReason reason) {
  switch (reason) {
    case FinishReason::kCancelled:
      return store::RequestStatus::kCancelled;
    case FinishReason::kError:
      return store::RequestStatus::kFailed;
    case FinishReason::kStop:
    case FinishReason::kLength:
      break;
  }
  return store::RequestStatus::kFinished;
}

StoreTokenCommitter::StoreTokenCommitter(store::RequestStore* store, StoreCommitterOptions options)
    : store_(store), options_(std::move(options)) {}

Status StoreTokenCommitter::Commit(std::span<const TokenRecord> tokens, std::span<const EndRecord> ended) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<store::TokenCommit> rows;
  rows.reserve(tokens.size());
  for (const TokenRecord& t : tokens) {
    store::TokenCommit& row = rows.emplace_back();
    row.request_id = t.request_id;
    row.index = t.index;
    row.token = t.token.id;
    row.logprob = t.token.logprob;
    row.top.reserve(t.token.top.size());
    for (const TokenAlternative& alt : t.token.top) row.top.push_back({alt.id, alt.logprob});
  }
  std::vector<store::StatusChange> changes;
  changes.reserve(ended.size());
  for (const EndRecord& e : ended) {
    const store::RequestStatus status = StatusOfFinish(e.reason);
    changes.push_back(
        {e.request_id, status, status == store::RequestStatus::kFinished ? FinishReasonName(e.reason) : "", e.error});
  }
  ++num_commits_;
  const CommitCrashPoint* crash =
      options_.crash_point && options_.crash_point->commit == num_commits_ ? &*options_.crash_point : nullptr;
  std::function<void()> before_commit;
  if (crash && crash->phase == CrashPhase::kBeforeCommit) {
    before_commit = [&] { CrashAtCommit(*crash, tokens, ended); };
  }
  Status st = store_->Commit(rows, changes, options_.now_ms ? options_.now_ms() : UnixMillis(), before_commit);
  if (!st.ok()) {
    if (options_.on_commit_error) options_.on_commit_error(st);
    return st;
  }
  if (crash && crash->phase == CrashPhase::kAfterCommit) CrashAtCommit(*crash, tokens, ended);
  if (options_.on_commit) {
    options_.on_commit(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return Status::Ok();
}

}  // namespace hearth::daemon
