// One generation request as the request registry keeps it: what it asked for, how far it got,
// and the events its stream sends, recorded so that the stream can be replayed or resumed.
//
// The engine's thread feeds an entry through the sink returned by Tee(); HTTP threads read it
// (Info, Read). Every member is guarded by one mutex, so an entry is safe to share.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/engine/engine.h"

namespace hearth::daemon {

enum class RequestState { kQueued, kRunning, kFinished, kCancelled, kFailed, kLoading };

// "queued", "running", "finished", "cancelled", "failed", "loading" (waiting for its model).
const char* RequestStateName(RequestState state);
bool ParseRequestState(std::string_view name, RequestState* state);

// What a request is, fixed when it is submitted.
struct RequestMeta {
  std::string model;
  std::string endpoint;  // "chat.completions" or "completions"
  bool stream = false;
  int32_t prompt_tokens = 0;
  int64_t created_unix = 0;
  bool logprobs = false;  // the client asked for logprobs
  // Chat with tools: how its text is read for calls (ToolCallFormatName; empty: not read).
  std::string tool_format{};
};

// A snapshot of an entry.
struct RequestInfo {
  uint64_t id = 0;
  RequestMeta meta;
  RequestState state = RequestState::kQueued;
  int64_t finished_unix = 0;    // 0 until the request ends
  std::string text;             // generated so far (empty in summaries)
  std::vector<int32_t> tokens;  // generated so far (empty in summaries)
  int32_t num_tokens = 0;       // generated so far
  // Each token event's token with its logprobs, when meta.logprobs (empty in summaries): a
  // non-streamed answer is rebuilt from them (an idempotent retry).
  std::vector<GeneratedToken> logprob_tokens;
  std::optional<FinishReason> finish_reason;  // nullopt until the request ends
  int32_t completion_tokens = 0;  // usage, once finished
  int32_t cached_tokens = 0;      // usage: prompt tokens the prefix cache served, once finished
  std::string error;              // why it failed, for kFailed
  uint64_t num_events = 0;        // events recorded so far
  // In a cluster: the nodes that served it, in order (more than one when a node died under
  // it and another took it over); empty on a single node.
  std::vector<std::string> served_by;
  // In a cluster: the tokens peers generated for it, and what they cost there (the rest of
  // its completion tokens were generated here).
  int32_t remote_tokens = 0;
  double remote_dollars = 0;
};

// Turns one request's engine events into the payloads of its server-sent events (what goes
// after "data: "), in order. Called under the entry's lock, never concurrently.
class EventEncoder {
 public:
  virtual ~EventEncoder() = default;
  // Once, first, when the request id is known.
  virtual void Begin(uint64_t request_id, std::vector<std::string>* out) = 0;
  virtual void Token(const TokenEvent& event, std::vector<std::string>* out) = 0;
  virtual void Finish(const FinishEvent& event, std::vector<std::string>* out) = 0;
};

// One recorded event. Ids start at 1 and follow the order of the stream.
struct RecordedEvent {
  uint64_t id = 0;
  std::string data;
};

struct EventsRead {
  std::vector<RecordedEvent> events;
  bool done = false;  // the request has ended and nothing follows `events`
};

class RequestEntry : public std::enable_shared_from_this<RequestEntry> {
 public:
  // A request about to be submitted; its id comes with Attach().
  static std::shared_ptr<RequestEntry> Create(RequestMeta meta, std::unique_ptr<EventEncoder> encoder);
  // An ended request read back from storage: `info` and its recorded `events`, in order.
  static std::shared_ptr<RequestEntry> Restore(RequestInfo info, std::vector<std::string> events);

  // The sink to hand the engine: records each event here, then forwards it to `downstream`
  // (may be null). Recording first means that whoever waits on `downstream` finds the entry
  // already up to date.
  std::shared_ptr<RequestSink> Tee(std::shared_ptr<RequestSink> downstream);

  // Gives the entry the engine's id, encodes what arrived before it, and arranges for
  // `on_done` to run once when the request ends (at once when it already has).
  void Attach(uint64_t id, std::function<void()> on_done);

  uint64_t id() const;
  // With `with_output` false, text and tokens are left empty (list views).
  RequestInfo Info(bool with_output = true) const;
  // The request has ended (and its id is known).
  bool done() const;
  bool WaitDone(std::chrono::milliseconds timeout) const;
  // The events after id `after`. When there are none yet and the request is still going,
  // waits up to `wait` for some.
  EventsRead Read(uint64_t after, std::chrono::milliseconds wait) const;
  // Runs `waker` (on the thread that recorded it, outside the lock) whenever an event is
  // recorded or the request ends; dropped once it has ended. An event stream served without a
  // waiting thread uses it to be called again at once.
  void AddWaker(std::function<void()> waker);

 private:
  class TeeSink;
  struct PendingEvent {
    bool is_finish = false;
    TokenEvent token;
    FinishEvent finish;
  };

  RequestEntry(RequestMeta meta, std::unique_ptr<EventEncoder> encoder);
  void OnToken(const TokenEvent& event);
  void OnFinish(const FinishEvent& event);
  void OnModelLoading(bool loading);
  void OnServedBy(const std::string& node);
  void OnRemoteCost(int32_t tokens, double dollars);
  void Encode(const PendingEvent& event);  // REQUIRES(mu_)
  bool DoneLocked() const { return ended_ && attached_; }
  // Wakes Read's waiters and runs the wakers; call without mu_ held.
  void Notify();

  const RequestMeta meta_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::unique_ptr<EventEncoder> encoder_;  // GUARDED_BY(mu_); released once the request ends
  uint64_t id_ = 0;                        // GUARDED_BY(mu_)
  bool attached_ = false;                  // GUARDED_BY(mu_)
  std::vector<PendingEvent> pending_;      // GUARDED_BY(mu_): events before Attach
  std::vector<std::string> events_;        // GUARDED_BY(mu_): event k has id k + 1
  RequestInfo info_;                       // GUARDED_BY(mu_): without id, meta, num_events
  bool ended_ = false;                     // GUARDED_BY(mu_): OnFinish came
  std::function<void()> on_done_;          // GUARDED_BY(mu_)
  std::vector<std::function<void()>> wakers_;  // GUARDED_BY(mu_)
};

}  // namespace hearth::daemon
