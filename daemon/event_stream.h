// Sends a request's recorded events as server-sent events: each as "id: N" and "data: ...",
// from the one after `after`, following the request live until it ends, then "data: [DONE]".
// The POST that started a stream and GET /v1/requests/{id}/events both serve it this way, so a
// replay sends exactly what the live stream sent, and Last-Event-ID resumes either.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "daemon/request_entry.h"

namespace httplib {
struct Response;
}

namespace hearth::daemon {

// One event as it goes on the wire.
std::string FormatSseEvent(const RecordedEvent& event);

// `on_abandoned` (may be empty) runs when the client goes away before the request ended.
void ServeEventStream(httplib::Response& res, std::shared_ptr<RequestEntry> entry, uint64_t after,
                      std::function<void()> on_abandoned);

}  // namespace hearth::daemon
