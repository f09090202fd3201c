#include "daemon/requests/request_registry.h"

#include <deque>
#include <map>
#include <mutex>

namespace hearth::daemon {

struct MemoryRequestRegistry::State {
  std::function<Clock::time_point()> now;  // constant

  std::mutex mu;
  RetentionPolicy policy;                                   // GUARDED_BY(mu)
  std::map<uint64_t, std::shared_ptr<RequestEntry>> entries;  // GUARDED_BY(mu)
  // Ended entries in the order they ended, oldest first.
  std::deque<std::pair<Clock::time_point, uint64_t>> ended;  // GUARDED_BY(mu)

  void Ended(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu);
    ended.emplace_back(now(), id);
    Sweep();
  }

  // Drops ended entries past the policy. REQUIRES(mu)
  void Sweep() {
    const Clock::time_point t = now();
    while (!ended.empty() && (ended.size() > policy.max_ended || t - ended.front().first > policy.max_age)) {
      entries.erase(ended.front().second);
      ended.pop_front();
    }
  }
};

MemoryRequestRegistry::MemoryRequestRegistry(RetentionPolicy policy, std::function<Clock::time_point()> now)
    : state_(std::make_shared<State>()) {
  state_->now = std::move(now);
  state_->policy = policy;
}

MemoryRequestRegistry::~MemoryRequestRegistry() = default;

void MemoryRequestRegistry::Add(uint64_t id, std::shared_ptr<RequestEntry> entry) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->Sweep();
    state_->entries[id] = entry;
  }
  // Outside the lock: the hook may run at once and take it.
  entry->Attach(id, [weak = std::weak_ptr<State>(state_), id] {
    if (auto state = weak.lock()) state->Ended(id);
  });
}

std::shared_ptr<RequestEntry> MemoryRequestRegistry::Find(uint64_t id) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->Sweep();
  auto it = state_->entries.find(id);
  return it == state_->entries.end() ? nullptr : it->second;
}

std::vector<RequestInfo> MemoryRequestRegistry::List(const RequestFilter& filter) {
  std::vector<std::shared_ptr<RequestEntry>> entries;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->Sweep();
    for (auto it = state_->entries.rbegin(); it != state_->entries.rend(); ++it) entries.push_back(it->second);
  }
  std::vector<RequestInfo> out;
  for (const auto& entry : entries) {
    if (out.size() >= filter.limit) break;
    RequestInfo info = entry->Info(/*with_output=*/false);
    if (filter.state && info.state != *filter.state) continue;
    out.push_back(std::move(info));
  }
  return out;
}

void MemoryRequestRegistry::SetRetention(RetentionPolicy policy) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->policy = policy;
  state_->Sweep();
}

size_t MemoryRequestRegistry::size() {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->entries.size();
}

}  // namespace hearth::daemon
