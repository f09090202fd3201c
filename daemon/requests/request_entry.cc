#include "daemon/requests/request_entry.h"

#include <algorithm>

#include "common/check.h"

namespace hearth::daemon {
namespace {

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

RequestState StateOfFinish(FinishReason reason) {
  switch (reason) {
    case FinishReason::kCancelled:
      return RequestState::kCancelled;
    case FinishReason::kError:
      return RequestState::kFailed;
    case FinishReason::kStop:
    case FinishReason::kLength:
      break;
  }
  return RequestState::kFinished;
}

constexpr std::pair<RequestState, const char*> kStateNames[] = {
    {RequestState::kQueued, "queued"},       {RequestState::kRunning, "running"}, {RequestState::kFinished, "finished"},
    {RequestState::kCancelled, "cancelled"}, {RequestState::kFailed, "failed"},   {RequestState::kLoading, "loading"},
};

}  // namespace

const char* RequestStateName(RequestState state) {
  for (const auto& [s, name] : kStateNames) {
    if (s == state) return name;
  }
  return "unknown";
}

bool ParseRequestState(std::string_view name, RequestState* state) {
  for (const auto& [s, n] : kStateNames) {
    if (name == n) {
      *state = s;
      return true;
    }
  }
  return false;
}

// Records into the entry, then forwards.
class RequestEntry::TeeSink : public RequestSink {
 public:
  TeeSink(std::shared_ptr<RequestEntry> entry, std::shared_ptr<RequestSink> downstream)
      : entry_(std::move(entry)), downstream_(std::move(downstream)) {}

  void OnToken(const TokenEvent& event) override {
    entry_->OnToken(event);
    if (downstream_) downstream_->OnToken(event);
  }
  void OnFinish(const FinishEvent& event) override {
    entry_->OnFinish(event);
    if (downstream_) downstream_->OnFinish(event);
  }
  void OnModelLoading(bool loading) override {
    entry_->OnModelLoading(loading);
    if (downstream_) downstream_->OnModelLoading(loading);
  }
  void OnServedBy(const std::string& node) override {
    entry_->OnServedBy(node);
    if (downstream_) downstream_->OnServedBy(node);
  }
  void OnRemoteCost(int32_t tokens, double dollars) override {
    entry_->OnRemoteCost(tokens, dollars);
    if (downstream_) downstream_->OnRemoteCost(tokens, dollars);
  }

 private:
  const std::shared_ptr<RequestEntry> entry_;
  const std::shared_ptr<RequestSink> downstream_;
};

RequestEntry::RequestEntry(RequestMeta meta, std::unique_ptr<EventEncoder> encoder)
    : meta_(std::move(meta)), encoder_(std::move(encoder)) {}

std::shared_ptr<RequestEntry> RequestEntry::Create(RequestMeta meta, std::unique_ptr<EventEncoder> encoder) {
  CHECK(encoder != nullptr);
  return std::shared_ptr<RequestEntry>(new RequestEntry(std::move(meta), std::move(encoder)));
}

std::shared_ptr<RequestEntry> RequestEntry::Restore(RequestInfo info, std::vector<std::string> events) {
  CHECK(info.state != RequestState::kQueued && info.state != RequestState::kRunning &&
        info.state != RequestState::kLoading)
      << "only ended requests are restored";
  std::shared_ptr<RequestEntry> entry(new RequestEntry(info.meta, nullptr));
  entry->id_ = info.id;
  entry->attached_ = true;
  entry->ended_ = true;
  entry->events_ = std::move(events);
  entry->info_ = std::move(info);
  return entry;
}

std::shared_ptr<RequestSink> RequestEntry::Tee(std::shared_ptr<RequestSink> downstream) {
  return std::make_shared<TeeSink>(shared_from_this(), std::move(downstream));
}

void RequestEntry::Attach(uint64_t id, std::function<void()> on_done) {
  bool run_now = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    CHECK(!attached_) << "request " << id << " attached twice";
    id_ = id;
    attached_ = true;
    encoder_->Begin(id, &events_);
    for (const PendingEvent& event : pending_) Encode(event);
    pending_.clear();
    if (ended_) {
      encoder_.reset();
      run_now = true;
    } else {
      on_done_ = std::move(on_done);
    }
  }
  Notify();
  if (run_now && on_done) on_done();
}

void RequestEntry::OnToken(const TokenEvent& event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return;  // the engine promises not to; never record past the end
    info_.state = RequestState::kRunning;
    info_.text += event.text;
    info_.tokens.push_back(event.token.id);
    if (meta_.logprobs) info_.logprob_tokens.push_back(event.token);
    PendingEvent pending{false, event, {}};
    if (attached_) {
      Encode(pending);
    } else {
      pending_.push_back(std::move(pending));
    }
  }
  Notify();
}

void RequestEntry::OnFinish(const FinishEvent& event) {
  std::function<void()> on_done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return;
    ended_ = true;
    info_.state = StateOfFinish(event.finish_reason);
    info_.finished_unix = UnixNow();
    info_.text += event.text;
    info_.finish_reason = event.finish_reason;
    info_.completion_tokens = event.completion_tokens;
    info_.cached_tokens = event.cached_tokens;
    if (!event.status.ok()) info_.error = event.status.message();
    PendingEvent pending{true, {}, event};
    if (attached_) {
      Encode(pending);
      encoder_.reset();  // it may point into the model; nothing more to encode
      on_done = std::move(on_done_);
    } else {
      pending_.push_back(std::move(pending));
    }
  }
  Notify();
  if (on_done) on_done();
}

void RequestEntry::OnModelLoading(bool loading) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    const bool before_first_token = info_.state == RequestState::kQueued || info_.state == RequestState::kLoading;
    if (ended_ || !before_first_token) return;
    info_.state = loading ? RequestState::kLoading : RequestState::kQueued;
  }
  Notify();
}

void RequestEntry::OnServedBy(const std::string& node) {
  std::lock_guard<std::mutex> lock(mu_);
  if (info_.served_by.empty() || info_.served_by.back() != node) info_.served_by.push_back(node);
}

void RequestEntry::OnRemoteCost(int32_t tokens, double dollars) {
  std::lock_guard<std::mutex> lock(mu_);
  info_.remote_tokens += std::max(0, tokens);
  if (dollars > 0) info_.remote_dollars += dollars;
}

void RequestEntry::Notify() {
  cv_.notify_all();
  std::vector<std::function<void()>> wakers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    wakers = DoneLocked() ? std::move(wakers_) : wakers_;
    if (DoneLocked()) wakers_.clear();
  }
  for (const auto& wake : wakers) wake();
}

void RequestEntry::AddWaker(std::function<void()> waker) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!DoneLocked()) {
      wakers_.push_back(std::move(waker));
      return;
    }
  }
  waker();  // nothing more will come: the reader finds the end now
}

void RequestEntry::Encode(const PendingEvent& event) {
  if (event.is_finish) {
    encoder_->Finish(event.finish, &events_);
  } else {
    encoder_->Token(event.token, &events_);
  }
}

uint64_t RequestEntry::id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return id_;
}

RequestInfo RequestEntry::Info(bool with_output) const {
  std::lock_guard<std::mutex> lock(mu_);
  RequestInfo out;
  out.id = id_;
  out.meta = meta_;
  out.state = info_.state;
  out.finished_unix = info_.finished_unix;
  if (with_output) {
    out.text = info_.text;
    out.tokens = info_.tokens;
    out.logprob_tokens = info_.logprob_tokens;
  }
  out.num_tokens = static_cast<int32_t>(info_.tokens.size());
  out.finish_reason = info_.finish_reason;
  out.completion_tokens = info_.completion_tokens;
  out.cached_tokens = info_.cached_tokens;
  out.error = info_.error;
  out.served_by = info_.served_by;
  out.remote_tokens = info_.remote_tokens;
  out.remote_dollars = info_.remote_dollars;
  out.num_events = events_.size();
  // A restored entry has no tokens of its own beyond what storage kept.
  if (out.num_tokens == 0) out.num_tokens = info_.num_tokens;
  return out;
}

bool RequestEntry::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return DoneLocked();
}

bool RequestEntry::WaitDone(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return DoneLocked(); });
}

EventsRead RequestEntry::Read(uint64_t after, std::chrono::milliseconds wait) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, wait, [&] { return DoneLocked() || (attached_ && events_.size() > after); });
  EventsRead out;
  if (!attached_) return out;
  for (uint64_t i = after; i < events_.size(); ++i) out.events.push_back({i + 1, events_[i]});
  out.done = DoneLocked();
  return out;
}

}  // namespace hearth::daemon
