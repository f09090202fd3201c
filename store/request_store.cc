#include "store/request_store.h"

#include <sqlite3.h>

#include <bit>

#include "store/statement.h"

namespace hearth::store {
namespace {

StatusOr<RequestStatus> ParseStatus(const std::string& s) {
  for (RequestStatus st : {RequestStatus::kQueued, RequestStatus::kRunning, RequestStatus::kFinished,
                           RequestStatus::kCancelled, RequestStatus::kFailed}) {
    if (s == RequestStatusName(st)) return st;
  }
  return Status::Corruption("unknown request status '" + s + "' in the store");
}

// BEGIN IMMEDIATE ... COMMIT, rolled back when `body` fails.
template <typename Body>
Status InTransaction(Database* db, Body body) {
  HEARTH_RETURN_IF_ERROR(db->Exec("BEGIN IMMEDIATE;"));
  Status st = body();
  if (!st.ok()) {
    (void)db->Exec("ROLLBACK;");
    return st;
  }
  st = db->Exec("COMMIT;");
  if (!st.ok()) (void)db->Exec("ROLLBACK;");
  return st;
}

}  // namespace

const char* RequestStatusName(RequestStatus status) {
  switch (status) {
    case RequestStatus::kQueued: return "queued";
    case RequestStatus::kRunning: return "running";
    case RequestStatus::kFinished: return "finished";
    case RequestStatus::kCancelled: return "cancelled";
    case RequestStatus::kFailed: return "failed";
  }
  return "unknown";
}

bool IsEnded(RequestStatus status) {
  return status == RequestStatus::kFinished || status == RequestStatus::kCancelled || status == RequestStatus::kFailed;
}

Status RequestStore::Insert(const NewRequest& r) {
  std::lock_guard lock(mu_);
  Stmt insert(db_->handle(),
              "INSERT INTO requests(id, idempotency_key, model, kind, params, prompt, status, created_ms, updated_ms)"
              " VALUES(?, ?, ?, ?, ?, ?, 'queued', ?, ?)");
  HEARTH_RETURN_IF_ERROR(insert.status());
  insert.Int(1, static_cast<int64_t>(r.id))
      .TextOrNull(2, r.idempotency_key)
      .Text(3, r.model)
      .Text(4, r.kind)
      .Text(5, r.params)
      .Blob(6, r.prompt.data(), r.prompt.size() * sizeof(int32_t))
      .Int(7, r.created_ms)
      .Int(8, r.created_ms);
  return InTransaction(db_, [&] { return insert.Run(); });
}

StatusOr<std::optional<uint64_t>> RequestStore::FindByIdempotencyKey(const std::string& key) {
  std::lock_guard lock(mu_);
  Stmt q(db_->handle(), "SELECT id FROM requests WHERE idempotency_key = ?");
  HEARTH_RETURN_IF_ERROR(q.status());
  q.Text(1, key);
  HEARTH_ASSIGN_OR_RETURN(bool row, q.Next());
  if (!row) return std::optional<uint64_t>();
  return std::optional<uint64_t>(static_cast<uint64_t>(q.ColInt(0)));
}

Status RequestStore::Commit(std::span<const TokenCommit> tokens, std::span<const StatusChange> changes,
                            int64_t now_ms, const std::function<void()>& before_commit) {
  if (tokens.empty() && changes.empty()) return Status::Ok();
  std::lock_guard lock(mu_);
  Stmt add(db_->handle(), "INSERT INTO tokens(request_id, idx, token, logprob, top) VALUES(?, ?, ?, ?, ?)");
  Stmt touch(db_->handle(), "UPDATE requests SET status = 'running', updated_ms = ? WHERE id = ? AND status = 'queued'");
  Stmt change(db_->handle(),
              "UPDATE requests SET status = ?, finish_reason = ?, error = ?, updated_ms = ?, ended_ms = ? WHERE id = ?");
  HEARTH_RETURN_IF_ERROR(add.status());
  HEARTH_RETURN_IF_ERROR(touch.status());
  HEARTH_RETURN_IF_ERROR(change.status());
  return InTransaction(db_, [&]() -> Status {
    std::vector<int32_t> top;
    for (const TokenCommit& t : tokens) {
      top.clear();
      for (const StoredTop& c : t.top) {
        top.push_back(c.token);
        top.push_back(std::bit_cast<int32_t>(c.logprob));
      }
      add.Int(1, static_cast<int64_t>(t.request_id)).Int(2, t.index).Int(3, t.token).Real(4, t.logprob);
      add.Blob(5, top.data(), top.size() * sizeof(int32_t));
      Status st = add.Run();
      if (!st.ok()) {
        return st.WithContext("token " + std::to_string(t.index) + " of request " + std::to_string(t.request_id));
      }
      touch.Int(1, now_ms).Int(2, static_cast<int64_t>(t.request_id));
      HEARTH_RETURN_IF_ERROR(touch.Run());
    }
    for (const StatusChange& c : changes) {
      change.Text(1, RequestStatusName(c.status))
          .Text(2, c.finish_reason)
          .Text(3, c.error)
          .Int(4, now_ms)
          .Int(5, IsEnded(c.status) ? now_ms : 0)
          .Int(6, static_cast<int64_t>(c.request_id));
      HEARTH_RETURN_IF_ERROR(change.Run());
    }
    if (before_commit) before_commit();
    return Status::Ok();
  });
}

StatusOr<std::vector<StoredRequest>> RequestStore::Select(const std::string& where, int64_t arg, bool with_arg) {
  const std::string sql =
      "SELECT id, idempotency_key, model, kind, params, prompt, status, finish_reason, error, created_ms,"
      " updated_ms, ended_ms FROM requests " + where + " ORDER BY id";
  Stmt q(db_->handle(), sql.c_str());
  HEARTH_RETURN_IF_ERROR(q.status());
  if (with_arg) q.Int(1, arg);
  std::vector<StoredRequest> out;
  for (;;) {
    HEARTH_ASSIGN_OR_RETURN(bool row, q.Next());
    if (!row) break;
    StoredRequest r;
    r.id = static_cast<uint64_t>(q.ColInt(0));
    r.idempotency_key = q.ColText(1);
    r.model = q.ColText(2);
    r.kind = q.ColText(3);
    r.params = q.ColText(4);
    r.prompt = q.ColInts(5);
    HEARTH_ASSIGN_OR_RETURN(r.status, ParseStatus(q.ColText(6)));
    r.finish_reason = q.ColText(7);
    r.error = q.ColText(8);
    r.created_ms = q.ColInt(9);
    r.updated_ms = q.ColInt(10);
    r.ended_ms = q.ColInt(11);
    out.push_back(std::move(r));
  }
  Stmt toks(db_->handle(), "SELECT idx, token, logprob, top FROM tokens WHERE request_id = ? ORDER BY idx");
  HEARTH_RETURN_IF_ERROR(toks.status());
  for (StoredRequest& r : out) {
    toks.Int(1, static_cast<int64_t>(r.id));
    for (;;) {
      HEARTH_ASSIGN_OR_RETURN(bool row, toks.Next());
      if (!row) break;
      if (toks.ColInt(0) != static_cast<int64_t>(r.tokens.size())) {
        return Status::Corruption("request " + std::to_string(r.id) + " has a gap in its committed tokens");
      }
      StoredToken t{static_cast<int32_t>(toks.ColInt(1)), static_cast<float>(toks.ColReal(2)), {}};
      const std::vector<int32_t> top = toks.ColInts(3);
      if (top.size() % 2 != 0) {
        return Status::Corruption("request " + std::to_string(r.id) + " token " + std::to_string(r.tokens.size()) +
                                  ": malformed top logprobs");
      }
      for (size_t i = 0; i < top.size(); i += 2) t.top.push_back({top[i], std::bit_cast<float>(top[i + 1])});
      r.tokens.push_back(std::move(t));
    }
    toks.Reset();
  }
  return out;
}

Status RequestStore::Delete(uint64_t id) {
  std::lock_guard lock(mu_);
  Stmt del(db_->handle(), "DELETE FROM requests WHERE id = ?");
  HEARTH_RETURN_IF_ERROR(del.status());
  del.Int(1, static_cast<int64_t>(id));
  return InTransaction(db_, [&] { return del.Run(); });
}

StatusOr<std::optional<StoredRequest>> RequestStore::Get(uint64_t id) {
  std::lock_guard lock(mu_);
  HEARTH_ASSIGN_OR_RETURN(auto rows, Select("WHERE id = ?", static_cast<int64_t>(id), true));
  if (rows.empty()) return std::optional<StoredRequest>();
  return std::optional<StoredRequest>(std::move(rows[0]));
}

StatusOr<std::vector<StoredRequest>> RequestStore::LoadUnfinished() {
  std::lock_guard lock(mu_);
  return Select("WHERE status IN ('queued', 'running')", 0, false);
}

StatusOr<uint64_t> RequestStore::MaxRequestId() {
  std::lock_guard lock(mu_);
  Stmt q(db_->handle(), "SELECT COALESCE(MAX(id), 0) FROM requests");
  HEARTH_RETURN_IF_ERROR(q.status());
  HEARTH_ASSIGN_OR_RETURN(bool row, q.Next());
  if (!row) return uint64_t{0};
  return static_cast<uint64_t>(q.ColInt(0));
}

StatusOr<int64_t> RequestStore::PruneEnded(int64_t before_ms) {
  std::lock_guard lock(mu_);
  // The newest request stays whatever its age: MaxRequestId() must never go down, or a restart
  // would hand out ids that clients already saw.
  Stmt del(db_->handle(),
           "DELETE FROM requests WHERE ended_ms > 0 AND ended_ms < ? AND id < (SELECT MAX(id) FROM requests)");
  HEARTH_RETURN_IF_ERROR(del.status());
  del.Int(1, before_ms);
  int64_t n = 0;
  HEARTH_RETURN_IF_ERROR(InTransaction(db_, [&]() -> Status {
    HEARTH_RETURN_IF_ERROR(del.Run());
    n = sqlite3_changes(db_->handle());
    return Status::Ok();
  }));
  return n;
}

}  // namespace hearth::store
