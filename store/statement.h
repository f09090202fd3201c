// A prepared SQLite statement for the typed stores of this module (request_store.h,
// model_store.h): bind, run or step, read columns; finalized on scope exit.
#pragma once

#include <sqlite3.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/status.h"

namespace hearth::store {

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Status status() const { return rc_ == SQLITE_OK ? Status::Ok() : Error("prepare"); }
  Stmt& Int(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Real(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  Stmt& Text(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& TextOrNull(int i, const std::string& v) {
    if (v.empty()) {
      sqlite3_bind_null(stmt_, i);
      return *this;
    }
    return Text(i, v);
  }
  Stmt& Blob(int i, const void* data, size_t n) {
    sqlite3_bind_blob(stmt_, i, n ? data : "", static_cast<int>(n), SQLITE_TRANSIENT);
    return *this;
  }
  // Runs a statement that returns no rows, ready to run again.
  Status Run() {
    const int rc = sqlite3_step(stmt_);
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    if (rc == SQLITE_DONE) return Status::Ok();
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return Status::FailedPrecondition(std::string("constraint: ") + sqlite3_errmsg(db_));
    return Error("step");
  }
  // Steps a query: true with a row, false when done.
  StatusOr<bool> Next() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Error("step");
  }
  // Makes a stepped statement ready to bind and run again.
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t ColInt(int i) { return sqlite3_column_int64(stmt_, i); }
  double ColReal(int i) { return sqlite3_column_double(stmt_, i); }
  std::string ColText(int i) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
    return p ? std::string(p, sqlite3_column_bytes(stmt_, i)) : std::string();
  }
  std::vector<int32_t> ColInts(int i) {
    const void* p = sqlite3_column_blob(stmt_, i);
    const int n = sqlite3_column_bytes(stmt_, i);
    std::vector<int32_t> out(n / sizeof(int32_t));
    if (p && !out.empty()) std::memcpy(out.data(), p, out.size() * sizeof(int32_t));
    return out;
  }

 private:
  Status Error(const char* what) const { return Status::IOError(std::string("sqlite ") + what + ": " + sqlite3_errmsg(db_)); }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

}  // namespace hearth::store
