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
    // Requests and their committed tokens (request_store.h). Times in unix ms.
    {2, R"sql(
      CREATE TABLE requests (
        id INTEGER PRIMARY KEY,
        idempotency_key TEXT UNIQUE,
        model TEXT NOT NULL,
        kind TEXT NOT NULL,
        params TEXT NOT NULL,
        prompt BLOB NOT NULL,
        status TEXT NOT NULL,
        finish_reason TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        ended_ms INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX requests_by_status ON requests(status, id);
      CREATE TABLE tokens (
        request_id INTEGER NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        token INTEGER NOT NULL,
        logprob REAL NOT NULL,
        PRIMARY KEY (request_id, idx)
      ) WITHOUT ROWID;
    )sql"},
    // The model registry (model_store.h): models added at run time, and pins. Version 1 made
    // the table; added_at is unix seconds.
    {3, R"sql(
      ALTER TABLE models ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
    )sql"},
    // A token's top logprobs (request_store.h StoredTop), so that a recovered or rebuilt
    // request replays them: (token int32, logprob float32 bits) pairs, host order.
    {4, R"sql(
      ALTER TABLE tokens ADD COLUMN top BLOB NOT NULL DEFAULT x'';
    )sql"},
    // Each model's load per window (load_history.h), written as windows close, for the
    // forecaster: requests in flight (time-weighted mean and peak) and arrivals.
    {5, R"sql(
      CREATE TABLE load_windows (
        model TEXT NOT NULL,
        start_s INTEGER NOT NULL,
        seconds INTEGER NOT NULL,
        avg REAL NOT NULL,
        peak REAL NOT NULL,
        arrivals INTEGER NOT NULL,
        PRIMARY KEY (model, start_s)
      ) WITHOUT ROWID;
    )sql"},
};

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

}  // namespace hearth::store
