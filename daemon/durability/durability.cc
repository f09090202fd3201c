#include "daemon/durability/durability.h"

namespace hearth::daemon {

StatusOr<std::unique_ptr<Durability>> Durability::Open(store::Database* db, StoreCommitterOptions committer) {
  store::RequestStore probe(db);
  HEARTH_ASSIGN_OR_RETURN(uint64_t max_id, probe.MaxRequestId());
  return std::unique_ptr<Durability>(new Durability(db, max_id + 1, std::move(committer)));
}

std::unique_ptr<DurableRequestRegistry> Durability::MakeRegistry(RetentionPolicy policy, const Engine* engine) {
  auto registry = std::make_unique<DurableRequestRegistry>(
      &store_, policy, [engine](const store::StoredRequest& stored) { return RebuildEnded(stored, *engine); });
  registry->Prune();
  return registry;
}

StatusOr<store::SyncMode> ParseSyncMode(const std::string& text) {
  if (text == "full") return store::SyncMode::kFull;
  if (text == "normal") return store::SyncMode::kNormal;
  return Status::InvalidArgument("store.synchronous must be \"full\" or \"normal\", got \"" + text + "\"");
}

}  // namespace hearth::daemon
