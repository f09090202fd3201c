// hearthd's durable requests in one place (docs/durability.md): the request store over the
// daemon's database, the engine's token committer, the API's journal, the registry that falls
// back to the store, and recovery of the requests a previous run left unfinished.
#pragma once

#include <memory>

#include "common/status.h"
#include "daemon/durability/durable_registry.h"
#include "daemon/engine/engine_loop.h"
#include "daemon/durability/recovery.h"
#include "daemon/durability/request_journal.h"
#include "daemon/durability/store_token_committer.h"
#include "store/database.h"
#include "store/request_store.h"

namespace hearth::daemon {

class Durability {
 public:
  // `db` must outlive the result. `committer` sets the engine committer's commit observer and
  // crash test hook.
  static StatusOr<std::unique_ptr<Durability>> Open(store::Database* db, StoreCommitterOptions committer = {});

  TokenCommitter* committer() { return &committer_; }
  RequestJournal* journal() { return &journal_; }
  // The one request id allocator (above every id a previous run stored): the journal's, and
  // the engine's for requests submitted without an id.
  RequestIds* ids() { return &ids_; }

  // The registry for the routes; `engine` (rebuilds ended requests) must outlive it.
  std::unique_ptr<DurableRequestRegistry> MakeRegistry(RetentionPolicy policy, const Engine* engine);
  // Resumes what a previous run left unfinished (once, after the engine started).
  StatusOr<RecoveryReport> Recover(Engine* engine, RequestRegistry* registry) {
    return RecoverUnfinished(&store_, engine, registry);
  }

 private:
  Durability(store::Database* db, uint64_t first_id, StoreCommitterOptions committer)
      : store_(db), committer_(&store_, std::move(committer)), ids_(first_id), journal_(&store_, &ids_) {}

  store::RequestStore store_;
  StoreTokenCommitter committer_;
  RequestIds ids_;  // before journal_, which uses it
  RequestJournal journal_;
};

// "full" or "normal" (the [store] synchronous setting).
StatusOr<store::SyncMode> ParseSyncMode(const std::string& text);

}  // namespace hearth::daemon
