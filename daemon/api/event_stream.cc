#include "daemon/api/event_stream.h"

#include <httplib.h>

#include <chrono>

#include "daemon/anthropic/messages_response.h"
#include "daemon/http/stream_waker.h"
#include "daemon/openai/openai_response.h"

namespace hearth::daemon {
namespace {

using Clock = std::chrono::steady_clock;

// How long the provider waits for an event before handing control back to the HTTP server,
// for a source that cannot wake the stream (with a waker it never waits: the server calls
// again when woken, or after its backoff); and how long a stream may be silent before a
// keep-alive comment goes out (a write is what finds a vanished client).
constexpr auto kStreamPoll = std::chrono::milliseconds(20);
constexpr auto kKeepAliveEvery = std::chrono::seconds(5);

// Owned by the content provider; only the HTTP thread touches it.
struct EventStreamWriter {
  EventSource source;
  uint64_t sent = 0;  // id of the last event written
  Clock::time_point last_write = Clock::now();
  bool subscribed = false;

  // Writes whatever is ready; false when the client is gone.
  bool Pump(httplib::DataSink& sink) {
    if (!subscribed && source.subscribe) {
      if (std::function<void()> waker = http::CurrentStreamWaker()) {
        source.subscribe(std::move(waker));
        subscribed = true;
      }
    }
    EventsRead read = source.read(sent, subscribed ? std::chrono::milliseconds(0) : kStreamPoll);
    for (const RecordedEvent& event : read.events) {
      const std::string wire = source.format   ? source.format(event)
                               : source.with_ids ? FormatSseEvent(event)
                                                 : SseEvent(event.data);
      if (!Write(sink, wire)) return false;
      sent = event.id;
    }
    if (read.done) {
      if (source.send_done && !Write(sink, std::string(kSseDone))) return false;
      sink.done();
      return true;
    }
    if (Clock::now() - last_write > kKeepAliveEvery) return Write(sink, ": keep-alive\n\n");
    return true;
  }

  bool Write(httplib::DataSink& sink, const std::string& data) {
    last_write = Clock::now();
    return sink.write(data.data(), data.size());
  }
};

}  // namespace

void OpenStreams::Add() {
  std::lock_guard<std::mutex> lock(mu_);
  ++open_;
}

void OpenStreams::Remove() {
  std::lock_guard<std::mutex> lock(mu_);
  if (--open_ == 0) none_.notify_all();
}

bool OpenStreams::WaitUntilNone(std::chrono::milliseconds limit) {
  std::unique_lock<std::mutex> lock(mu_);
  return none_.wait_for(lock, limit, [this] { return open_ == 0; });
}

std::string FormatSseEvent(const RecordedEvent& event) {
  return "id: " + std::to_string(event.id) + "\n" + SseEvent(event.data);
}

namespace {

void Serve(httplib::Response& res, EventSource source, uint64_t after, std::function<void()> on_abandoned,
           OpenStreams* open) {
  auto writer = std::make_shared<EventStreamWriter>();
  writer->source = std::move(source);
  writer->sent = after;
  res.set_header("Cache-Control", "no-cache");
  if (open) open->Add();
  res.set_chunked_content_provider(
      "text/event-stream", [writer](size_t, httplib::DataSink& sink) { return writer->Pump(sink); },
      [writer, on_abandoned = std::move(on_abandoned), open](bool) {
        if (on_abandoned && !writer->source.ended()) on_abandoned();
        if (open) open->Remove();
      });
}

}  // namespace

void ServeEventStream(httplib::Response& res, std::shared_ptr<RequestEntry> entry, uint64_t after,
                      std::function<void()> on_abandoned, OpenStreams* open) {
  EventSource source;
  source.read = [entry](uint64_t from, std::chrono::milliseconds wait) { return entry->Read(from, wait); };
  source.ended = [entry] { return entry->done(); };
  source.subscribe = [entry](std::function<void()> waker) { entry->AddWaker(std::move(waker)); };
  // Anthropic's Messages streams name each event and end without [DONE].
  if (entry->Info(/*with_output=*/false).meta.endpoint == "messages") {
    source.format = [](const RecordedEvent& event) {
      return "id: " + std::to_string(event.id) + "\n" + FormatMessageEvent(event.data);
    };
    source.send_done = false;
  }
  Serve(res, std::move(source), after, std::move(on_abandoned), open);
}

void ServeEvents(httplib::Response& res, EventSource source, std::function<void()> on_abandoned, OpenStreams* open) {
  Serve(res, std::move(source), /*after=*/0, std::move(on_abandoned), open);
}

}  // namespace hearth::daemon
