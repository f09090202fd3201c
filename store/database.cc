#include "store/database.h"

#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "common/log.h"
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

StatusOr<OnDamage> ParseOnDamage(const std::string& text) {
  if (text == "refuse") return OnDamage::kRefuse;
  if (text == "repair") return OnDamage::kRepair;
  if (text == "reset") return OnDamage::kReset;
  return Status::InvalidArgument("store.on_damage must be \"refuse\", \"repair\" or \"reset\", got \"" + text + "\"");
}

int LatestSchemaVersion() { return Migrations().back().version; }

namespace {

// The first lines of quick_check's answer, or "ok".
std::string FirstProblems(const std::vector<std::vector<std::string>>& rows) {
  std::string out;
  for (size_t i = 0; i < rows.size() && i < 3; ++i) {
    if (!out.empty()) out += "; ";
    out += rows[i].empty() ? "" : rows[i][0];
  }
  return out.empty() ? "quick_check returned nothing" : out;
}

bool IsDamage(const Status& st) {
  const std::string& m = st.message();
  return m.find("not a database") != std::string::npos || m.find("malformed") != std::string::npos;
}

// Moves `path` and its WAL and shared-memory files aside; returns the new name of the first.
StatusOr<std::string> MoveAside(const std::string& path) {
  const std::string aside = path + ".damaged-" + std::to_string(::time(nullptr));
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::string from = path + suffix;
    if (::access(from.c_str(), F_OK) != 0) continue;
    if (::rename(from.c_str(), (aside + suffix).c_str()) != 0) {
      return Status::IOError("cannot move damaged " + from + " aside: " + std::strerror(errno));
    }
  }
  return aside;
}

}  // namespace

StatusOr<std::unique_ptr<Database>> Database::Open(const std::string& path, const DatabaseOptions& options) {
  StatusOr<std::unique_ptr<Database>> opened = OpenUnchecked(path, options);
  std::unique_ptr<Database> db;
  std::string problem;
  if (opened.ok()) {
    db = std::move(opened).value();
    StatusOr<std::string> verdict = db->QuickCheck();
    if (verdict.ok() && *verdict == "ok") {
      HEARTH_RETURN_IF_ERROR(db->Migrate());
      return db;
    }
    problem = verdict.ok() ? *verdict : verdict.status().message();
  } else if (IsDamage(opened.status())) {
    problem = opened.status().message();  // too damaged to open: a repair cannot help
  } else {
    return opened.status();  // permissions, a full disk: not the file's fault
  }
  LogError("database damaged").Kv("path", path).Kv("quick_check", problem);
  switch (options.on_damage) {
    case OnDamage::kRefuse:
      return Status::Corruption("database " + path + " is damaged (" + problem +
                                "); start with [store] on_damage = \"repair\" to rebuild its indexes, or \"reset\" " +
                                "to move it aside and start with an empty one");
    case OnDamage::kRepair: {
      if (!db) return Status::Corruption("database " + path + " cannot be opened (" + problem + ")");
      Status reindexed = db->Exec("REINDEX;");
      StatusOr<std::string> again = reindexed.ok() ? db->QuickCheck() : StatusOr<std::string>(reindexed);
      if (!again.ok() || *again != "ok") {
        return Status::Corruption("database " + path + " is damaged beyond its indexes (" +
                                  (again.ok() ? *again : again.status().message()) +
                                  "); [store] on_damage = \"reset\" moves it aside and starts anew");
      }
      LogWarn("database repaired: indexes rebuilt").Kv("path", path);
      HEARTH_RETURN_IF_ERROR(db->Migrate());
      return db;
    }
    case OnDamage::kReset: {
      db.reset();
      HEARTH_ASSIGN_OR_RETURN(std::string aside, MoveAside(path));
      LogWarn("damaged database moved aside; starting with an empty one").Kv("path", path).Kv("moved_to", aside);
      HEARTH_ASSIGN_OR_RETURN(db, OpenUnchecked(path, options));
      HEARTH_RETURN_IF_ERROR(db->Migrate());
      return db;
    }
  }
  return Status::Internal("unknown on_damage");
}

StatusOr<std::string> Database::QuickCheck() {
  StatusOr<std::vector<std::vector<std::string>>> rows = Query("PRAGMA quick_check;");
  if (!rows.ok()) return rows.status();  // a file too damaged to read at all says so here
  if (rows->size() == 1 && !(*rows)[0].empty() && (*rows)[0][0] == "ok") return std::string("ok");
  return FirstProblems(*rows);
}

StatusOr<std::unique_ptr<Database>> Database::OpenUnchecked(const std::string& path, const DatabaseOptions& options) {
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
