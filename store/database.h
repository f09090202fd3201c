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

// What Open does when PRAGMA quick_check finds the file damaged.
enum class OnDamage {
  kRefuse,  // fail with a Corruption status that says what to do
  kRepair,  // REINDEX (index damage is the kind that can be rebuilt), then check again
  kReset,   // move the damaged file aside (<path>.damaged-<unix seconds>) and start anew
};

// "refuse", "repair" or "reset" (hearth.toml's [store] on_damage).
StatusOr<OnDamage> ParseOnDamage(const std::string& text);

struct DatabaseOptions {
  // FULL survives power loss and node crashes; NORMAL survives process
  // crashes but may lose the last transactions on power loss (WAL).
  SyncMode sync = SyncMode::kFull;
  int busy_timeout_ms = 5000;
  OnDamage on_damage = OnDamage::kRefuse;
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
  // PRAGMA quick_check (what Open runs): "ok", or the first problems it found.
  StatusOr<std::string> QuickCheck();

  // The connection, for the typed stores of this module (request_store.h).
  sqlite3* handle() { return db_; }

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  // Opens and sets the pragmas; no check, no migration.
  static StatusOr<std::unique_ptr<Database>> OpenUnchecked(const std::string& path, const DatabaseOptions& options);
  Status Migrate();

  sqlite3* db_;
  std::string path_;
  int schema_version_ = 0;
};

// The newest schema version this build knows.
int LatestSchemaVersion();

}  // namespace hearth::store
