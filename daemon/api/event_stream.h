// Sends a request's recorded events as server-sent events: each as "id: N" and "data: ...",
// from the one after `after`, following the request live until it ends, then "data: [DONE]"
// (a /v1/messages request: "id: N", "event: TYPE" and "data: ...", and no [DONE]).
// The POST that started a stream and GET /v1/requests/{id}/events both serve it this way, so a
// replay sends exactly what the live stream sent, and Last-Event-ID resumes either.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "daemon/requests/request_entry.h"

namespace httplib {
struct Response;
}

namespace hearth::daemon {

// The event streams a server is still writing. The HTTP library stops calling a stream's
// provider once its listener stops, so a stream whose request just ended (as every request
// does when the engine stops) would lose its last event and [DONE]: the daemon waits here for
// the streams to be written out before it stops its listeners.
class OpenStreams {
 public:
  void Add();
  void Remove();
  // True when none is open, within `limit`.
  bool WaitUntilNone(std::chrono::milliseconds limit);

 private:
  std::mutex mu_;
  std::condition_variable none_;
  int open_ = 0;  // GUARDED_BY(mu_)
};

// One event as it goes on the wire.
std::string FormatSseEvent(const RecordedEvent& event);

// `on_abandoned` (may be empty) runs when the client goes away before the request ended. The
// stream counts in `open` (may be null) until it is written out or abandoned.
void ServeEventStream(httplib::Response& res, std::shared_ptr<RequestEntry> entry, uint64_t after,
                      std::function<void()> on_abandoned, OpenStreams* open);

// Where a stream's events come from when it is not one request's entry (the choices of a
// request with n > 1 fanned into one stream).
struct EventSource {
  // As RequestEntry::Read.
  std::function<EventsRead(uint64_t after, std::chrono::milliseconds wait)> read;
  // Nothing is left running; false makes a stream that ends (or is abandoned) run on_abandoned.
  std::function<bool()> ended;
  bool with_ids = true;  // send "id: N" lines
  // How an event goes on the wire (null: FormatSseEvent, or SseEvent without ids), and whether
  // "data: [DONE]" ends the stream (Anthropic's streams end with their own last event).
  std::function<std::string(const RecordedEvent&)> format = nullptr;
  bool send_done = true;
  // Hands the source a function to call when new events arrive (RequestEntry::AddWaker); may
  // be empty. With it, the stream never waits inside the HTTP server's provider call.
  std::function<void(std::function<void()>)> subscribe;
};
void ServeEvents(httplib::Response& res, EventSource source, std::function<void()> on_abandoned, OpenStreams* open);

}  // namespace hearth::daemon
