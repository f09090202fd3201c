// Sends a request's recorded events as server-sent events: each as "id: N" and "data: ...",
// from the one after `after`, following the request live until it ends, then "data: [DONE]".
// The POST that started a stream and GET /v1/requests/{id}/events both serve it this way, so a
// replay sends exactly what the live stream sent, and Last-Event-ID resumes either.
#pragma once

#include <chrono>
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

// Where a stream's events come from when it is not one request's entry (the choices of a
// request with n > 1 fanned into one stream).
struct EventSource {
  // As RequestEntry::Read.
  std::function<EventsRead(uint64_t after, std::chrono::milliseconds wait)> read;
  // Nothing is left running; false makes a stream that ends (or is abandoned) run on_abandoned.
  std::function<bool()> ended;
  bool with_ids = true;  // send "id: N" lines
};
void ServeEvents(httplib::Response& res, EventSource source, std::function<void()> on_abandoned);

}  // namespace hearth::daemon
