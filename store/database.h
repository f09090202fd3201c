// The daemon's SQLite store: opens the database in WAL mode and brings its
// schema up to the current version with ordered migrations.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

struct sqlite3;

namespace hearth::store {

enum class SyncMode { kFull, kNormal, kOff };

struct DatabaseOptions {
  // FULL survives power loss and node crashes; NORMAL survives process
  // crashes but may lose the last transactions on power loss (WAL).
  SyncMode sync = SyncMode::kFull;
  int busy_timeout_ms = 5000;
};

class Database {
 public:
  static StatusOr<std::unique_ptr<Database>> Open(const std::string& path, const DatabaseOptions& options = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more SQL statements that return no rows.
  Status Exec(const std::string& sql);
  // Runs a query and returns every row's columns as text (NULL as "").
  StatusOr<std::vector<std::vector<std::string>>> Query(const std::string& sql);

  int schema_version() const { return schema_version_; }
  const std::string& path() const { return path_; }

  // "ok" when the database file is intact.
  StatusOr<std::string> IntegrityCheck();

  // The connection, for the typed stores of this module (request_store.h).
  sqlite3* handle() { return db_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status Migrate();

  sqlite3* db_;
  std::string path_;
  int schema_version_ = 0;
};

// The newest schema version this build knows.
int LatestSchemaVersion();

}  // namespace hearth::store
