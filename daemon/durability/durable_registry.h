// The request registry backed by the store: running and recently ended requests are served from
// memory (MemoryRequestRegistry); a request that ended longer ago, or before hearthd restarted,
// is rebuilt from its committed tokens (recovery.h). Ended requests leave the store after the
// retention's max_age (request_retention_seconds).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

#include "daemon/requests/request_registry.h"
#include "store/request_store.h"

namespace hearth::daemon {

class DurableRequestRegistry final : public RequestRegistry {
 public:
  // Rebuilds an ended stored request's entry (RebuildEnded), or null.
  using Rebuild = std::function<std::shared_ptr<RequestEntry>(const store::StoredRequest&)>;

  // `store` must outlive the registry.
  DurableRequestRegistry(store::RequestStore* store, RetentionPolicy policy, Rebuild rebuild);

  void Add(uint64_t id, std::shared_ptr<RequestEntry> entry) override;
  std::shared_ptr<RequestEntry> Find(uint64_t id) override;
  // From memory only: requests that ended before a restart are not listed.
  std::vector<RequestInfo> List(const RequestFilter& filter) override { return memory_.List(filter); }
  void SetRetention(RetentionPolicy policy) override;

  // Deletes stored requests that ended more than max_age ago; how many.
  int64_t Prune();

 private:
  void MaybePrune();

  store::RequestStore* const store_;
  const Rebuild rebuild_;
  MemoryRequestRegistry memory_;

  std::mutex mu_;
  std::chrono::seconds max_age_;                        // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point last_prune_{};  // GUARDED_BY(mu_)
};

}  // namespace hearth::daemon
