#include "store/database.h"

#include <sqlite3.h>

#include "store/migrations.h"

namespace hearth::store {
namespace {

Status SqliteError(sqlite3* db, const std::string& what) {
  return Status::IOError(what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

const char* SyncPragma(SyncMode mode) {
  switch (mode) {
    case SyncMode::kFull: return "PRAGMA synchronous=FULL;";
    case SyncMode::kNormal: return "PRAGMA synchronous=NORMAL;";
    case SyncMode::kOff: return "PRAGMA synchronous=OFF;";
  }
  return "PRAGMA synchronous=FULL;";
}

}  // namespace

int LatestSchemaVersion() { return Migrations().back().version; }

StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path, const DatabaseOptions& options) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    Status st = SqliteError(raw, "open " + path);
    sqlite3_close(raw);
    return st;
  }
  std::unique_ptr<Database> db(new Database(raw, path));
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);
  HEARTH_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL;"));
  HEARTH_RETURN_IF_ERROR(db->Exec(SyncPragma(options.sync)));
  HEARTH_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON;"));
  HEARTH_RETURN_IF_ERROR(db->Migrate());
  return db;
}

Database::~Database() { sqlite3_close(db_); }

Status Database::Exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Status::IOError("sqlite: " + msg);
  }
  return Status::Ok();
}

StatusOr<std::vector<std::vector<std::string>>> Database::Query(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    return SqliteError(db_, "prepare");
  }
  std::vector<std::vector<std::string>> rows;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const unsigned char* text = sqlite3_column_text(stmt, i);
      row.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return SqliteError(db_, "step");
  return rows;
}

StatusOr<std::string> Database::IntegrityCheck() {
  HEARTH_ASSIGN_OR_RETURN(auto rows, Query("PRAGMA integrity_check;"));
  if (rows.empty() || rows[0].empty()) return Status::Internal("integrity_check returned nothing");
  return rows[0][0];
}

// Applies each migration newer than user_version in its own transaction.
Status Database::Migrate() {
  HEARTH_ASSIGN_OR_RETURN(auto rows, Query("PRAGMA user_version;"));
  schema_version_ = std::stoi(rows.at(0).at(0));
  if (schema_version_ > LatestSchemaVersion()) {
    return Status::FailedPrecondition("database schema version " + std::to_string(schema_version_) +
                                      " is newer than this build supports (" +
                                      std::to_string(LatestSchemaVersion()) + ")");
  }
  for (const Migration& m : Migrations()) {
    if (m.version <= schema_version_) continue;
    HEARTH_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE;"));
    Status st = Exec(m.sql);
    if (st.ok()) st = Exec("PRAGMA user_version=" + std::to_string(m.version) + ";");
    if (!st.ok()) {
      (void)Exec("ROLLBACK;");
      return st.WithContext("migration " + std::to_string(m.version));
    }
    HEARTH_RETURN_IF_ERROR(Exec("COMMIT;"));
    schema_version_ = m.version;
  }
  return Status::Ok();
}

}  // namespace hearth::store
