#include "daemon/durability/durable_registry.h"

#include "common/log.h"
#include "daemon/durability/store_token_committer.h"

namespace hearth::daemon {
namespace {

// How often Add() prunes the store, at most.
constexpr auto kPruneEvery = std::chrono::seconds(60);

}  // namespace

DurableRequestRegistry::DurableRequestRegistry(store::RequestStore* store, RetentionPolicy policy, Rebuild rebuild)
    : store_(store), rebuild_(std::move(rebuild)), memory_(policy), max_age_(policy.max_age) {}

void DurableRequestRegistry::Add(uint64_t id, std::shared_ptr<RequestEntry> entry) {
  memory_.Add(id, std::move(entry));
  MaybePrune();
}

std::shared_ptr<RequestEntry> DurableRequestRegistry::Find(uint64_t id) {
  if (auto entry = memory_.Find(id)) return entry;
  StatusOr<std::optional<store::StoredRequest>> stored = store_->Get(id);
  if (!stored.ok()) {
    LogWarn("cannot read a stored request").Kv("id", id).Kv("error", stored.status().ToString());
    return nullptr;
  }
  if (!stored->has_value() || !rebuild_) return nullptr;
  return rebuild_(**stored);
}

void DurableRequestRegistry::SetRetention(RetentionPolicy policy) {
  memory_.SetRetention(policy);
  std::lock_guard<std::mutex> lock(mu_);
  max_age_ = policy.max_age;
}

int64_t DurableRequestRegistry::Prune() {
  std::chrono::seconds max_age;
  {
    std::lock_guard<std::mutex> lock(mu_);
    max_age = max_age_;
    last_prune_ = std::chrono::steady_clock::now();
  }
  const int64_t before = UnixMillis() - std::chrono::duration_cast<std::chrono::milliseconds>(max_age).count();
  StatusOr<int64_t> pruned = store_->PruneEnded(before);
  if (!pruned.ok()) {
    LogWarn("cannot prune ended requests").Kv("error", pruned.status().ToString());
    return 0;
  }
  if (*pruned > 0) LogInfo("pruned ended requests").Kv("count", *pruned);
  return *pruned;
}

void DurableRequestRegistry::MaybePrune() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (std::chrono::steady_clock::now() - last_prune_ < kPruneEvery) return;
  }
  Prune();
}

}  // namespace hearth::daemon
