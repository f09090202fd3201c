// The API's half of the commit rule: a request is stored (with its parameters, prompt tokens
// and idempotency key) before it is submitted, under an id that no earlier run of hearthd
// used, and so before the client sees that id. A submission the engine refuses is forgotten.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "daemon/durability/durable_params.h"
#include "daemon/engine/request_ids.h"
#include "store/request_store.h"

namespace hearth::daemon {

class RequestJournal {
 public:
  // Both must outlive the journal; `ids` starts above every stored id.
  RequestJournal(store::RequestStore* store, RequestIds* ids) : store_(store), ids_(ids) {}

  // Stores the request as queued; returns its id. FailedPrecondition when the idempotency key
  // is already taken (a retry racing this one).
  StatusOr<uint64_t> Record(const DurableParams& params, const std::vector<int32_t>& prompt,
                            const std::string& idempotency_key);
  // The engine refused it: nobody will see this id.
  void Forget(uint64_t id);
  StatusOr<std::optional<uint64_t>> FindByIdempotencyKey(const std::string& key) {
    return store_->FindByIdempotencyKey(key);
  }

 private:
  store::RequestStore* const store_;
  RequestIds* const ids_;
};

}  // namespace hearth::daemon
