#include "store/migrations.h"

namespace hearth::store {
namespace {

constexpr Migration kMigrations[] = {
    {1, R"sql(
      CREATE TABLE models (
        name TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        added_at INTEGER NOT NULL
      );
      CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT ''
      );
    )sql"},
};

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

}  // namespace hearth::store
