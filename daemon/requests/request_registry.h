// The request registry: every generation request submitted through the API, by its Hearth
// request id (the engine's id, sent as X-Request-Id), with its state, output and recorded
// stream. Requests that ended are kept for a bounded time and number, then dropped.
//
// RequestRegistry is the interface the routes use; MemoryRequestRegistry keeps everything in
// memory. A persistent registry (issue 6: SQLite in store/) implements the same interface: it
// writes an entry out from Attach's on_done hook, and Find/List read ended entries back with
// RequestEntry::Restore.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "daemon/requests/request_entry.h"

namespace hearth::daemon {

// How long ended requests stay queryable. Running requests are never dropped.
struct RetentionPolicy {
  std::chrono::seconds max_age{600};  // after they ended
  size_t max_ended = 256;             // the oldest beyond this many are dropped first
};

struct RequestFilter {
  std::optional<RequestState> state;  // any when empty
  size_t limit = 100;
};

class RequestRegistry {
 public:
  virtual ~RequestRegistry() = default;

  // Makes `entry` (from RequestEntry::Create, already handed to the engine) findable under
  // the engine's `id`, and attaches it.
  virtual void Add(uint64_t id, std::shared_ptr<RequestEntry> entry) = 0;
  // Null when the id is unknown or was dropped.
  virtual std::shared_ptr<RequestEntry> Find(uint64_t id) = 0;
  // Summaries (no text or tokens), newest first.
  virtual std::vector<RequestInfo> List(const RequestFilter& filter) = 0;
  virtual void SetRetention(RetentionPolicy policy) = 0;
};

class MemoryRequestRegistry final : public RequestRegistry {
 public:
  using Clock = std::chrono::steady_clock;
  // `now` is injectable for tests.
  explicit MemoryRequestRegistry(RetentionPolicy policy = {}, std::function<Clock::time_point()> now = Clock::now);
  ~MemoryRequestRegistry() override;

  void Add(uint64_t id, std::shared_ptr<RequestEntry> entry) override;
  std::shared_ptr<RequestEntry> Find(uint64_t id) override;
  std::vector<RequestInfo> List(const RequestFilter& filter) override;
  void SetRetention(RetentionPolicy policy) override;

  // Entries held, running and ended.
  size_t size();

 private:
  // Shared with the entries' on_done hooks, which may outlive the registry.
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace hearth::daemon
