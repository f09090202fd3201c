// Durable requests and their generated tokens (issue 6's commit rule): a
// request is stored before it is acknowledged, each scheduler iteration's
// tokens for every request are committed in one transaction before they are
// streamed, and on start every unfinished request is read back with its
// committed tokens so that generation resumes where it stopped.
//
// One writer: every method takes the store's lock; writes run in BEGIN
// IMMEDIATE transactions (the database's busy timeout covers other processes).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/database.h"

namespace hearth::store {

enum class RequestStatus { kQueued, kRunning, kFinished, kCancelled, kFailed };
const char* RequestStatusName(RequestStatus status);
bool IsEnded(RequestStatus status);

struct NewRequest {
  uint64_t id = 0;               // Hearth's request id (never reused: see MaxRequestId)
  std::string idempotency_key;   // empty: none
  std::string model;
  std::string kind;              // "chat" or "completion"
  std::string params;            // the validated request body, as JSON
  std::vector<int32_t> prompt;   // prompt token ids (stored as host-order int32)
  int64_t created_ms = 0;        // unix time
};

// One of a token's most likely alternatives (the request's top_logprobs), best first.
struct StoredTop {
  int32_t token = 0;
  float logprob = 0;
};

struct StoredToken {
  int32_t token = 0;
  float logprob = 0;
  std::vector<StoredTop> top;  // empty unless the request asked for top logprobs
};

struct StoredRequest {
  uint64_t id = 0;
  std::string idempotency_key;
  std::string model;
  std::string kind;
  std::string params;
  std::vector<int32_t> prompt;
  RequestStatus status = RequestStatus::kQueued;
  std::string finish_reason;
  std::string error;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t ended_ms = 0;  // 0 while not ended
  std::vector<StoredToken> tokens;  // committed, in order
};

// One generated token of one request, at index `index` of its output.
struct TokenCommit {
  uint64_t request_id = 0;
  int32_t index = 0;
  int32_t token = 0;
  float logprob = 0;
  std::vector<StoredTop> top;
};

// A change of a request's status in the same iteration.
struct StatusChange {
  uint64_t request_id = 0;
  RequestStatus status = RequestStatus::kRunning;
  std::string finish_reason;  // for kFinished
  std::string error;          // for kFailed
};

class RequestStore {
 public:
  explicit RequestStore(Database* db) : db_(db) {}

  // Stores a new request as queued. AlreadyExists-like FailedPrecondition when
  // its id or idempotency key is taken (look the key up first).
  Status Insert(const NewRequest& request);
  // The request stored under an idempotency key, if any.
  StatusOr<std::optional<uint64_t>> FindByIdempotencyKey(const std::string& key);

  // One iteration: every token and status change in one transaction. A token
  // index committed twice is an error and rolls the whole iteration back.
  // `before_commit`, when set, runs inside the transaction once every row is written, just
  // before COMMIT (the crash test hook, daemon/durability/commit_crash_point.h).
  Status Commit(std::span<const TokenCommit> tokens, std::span<const StatusChange> changes, int64_t now_ms,
                const std::function<void()>& before_commit = nullptr);

  // Forgets a request that was never acknowledged (its submission failed), with its tokens.
  Status Delete(uint64_t id);

  // A request with its committed tokens; nullopt when unknown.
  StatusOr<std::optional<StoredRequest>> Get(uint64_t id);
  // Every request not yet ended (queued or running), oldest first, with its tokens.
  StatusOr<std::vector<StoredRequest>> LoadUnfinished();
  // The largest id ever stored (0 when none): new ids start above it.
  StatusOr<uint64_t> MaxRequestId();
  // Deletes ended requests (and their tokens) that ended before `before_ms`, except the newest
  // request, which keeps MaxRequestId() from going down.
  StatusOr<int64_t> PruneEnded(int64_t before_ms);

 private:
  StatusOr<std::vector<StoredRequest>> Select(const std::string& where, int64_t arg, bool with_arg);

  Database* const db_;
  std::mutex mu_;
};

}  // namespace hearth::store
