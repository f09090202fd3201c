// Recovery (issue 6): requests rebuilt from the store. On start, every unfinished request is
// submitted again under its id with its committed tokens, which the engine replays as the
// prefix it continues from; its registry entry records the replayed events first, so a client
// that reconnects by id (GET /v1/requests/{id}/events, Last-Event-ID) gets the same stream.
// A request that ended before the restart is rebuilt on demand, its events regenerated from
// its committed tokens.
#pragma once

#include <memory>

#include "common/status.h"
#include "daemon/engine/engine_loop.h"
#include "daemon/requests/request_entry.h"
#include "daemon/requests/request_registry.h"
#include "store/request_store.h"

namespace hearth::daemon {

struct RecoveryReport {
  int64_t resumed = 0;          // submitted again
  int64_t failed = 0;           // could not be (unknown model, bad parameters): recorded as failed
  int64_t replayed_tokens = 0;  // committed tokens handed back to the engine
  int64_t prompt_tokens = 0;    // prompt tokens of the resumed requests
};

// Submits every unfinished request in `store` to `engine` (started, with its models) and adds
// it to `registry`. A request that cannot run again is recorded as failed, with why.
StatusOr<RecoveryReport> RecoverUnfinished(store::RequestStore* store, Engine* engine, RequestRegistry* registry);

// The registry entry of an ended stored request, its events regenerated from its committed
// tokens as the engine produced them. Null when the request is not ended or its model is gone.
std::shared_ptr<RequestEntry> RebuildEnded(const store::StoredRequest& stored, const Engine& engine);

}  // namespace hearth::daemon
