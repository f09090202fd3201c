#include "daemon/routing/kv_handoff.h"

#include <algorithm>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "common/log.h"
#include "daemon/routing/kv_route.h"
#include "daemon/routing/kv_wire.h"

namespace hearth::daemon {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Hears the one event of a KV answer and its close.
class KvAnswer final : public ForwardStreamHandler {
 public:
  void OnEvents(std::vector<std::string> events) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (std::string& e : events) data_ = std::move(e);
  }
  void OnClosed(const Status& why, int http_status, const std::string& error_body) override {
    StatusOr<int32_t> result = Status::Unavailable("no answer");
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!why.ok()) {
        result = Status::Unavailable("KV transfer refused (" + std::to_string(http_status) + "): " +
                                     (error_body.empty() ? why.message() : error_body.substr(0, 300)));
      } else {
        result = ParseKvImportedEvent(data_);
      }
    }
    done_.set_value(std::move(result));
  }
  std::future<StatusOr<int32_t>> future() { return done_.get_future(); }

 private:
  std::mutex mu_;
  std::string data_;  // GUARDED_BY(mu_)
  std::promise<StatusOr<int32_t>> done_;
};

// Sends `prefix` in parts that fit the peer's body limit, one after the other (each part's
// blocks chain to the ones before it).
KvHandoffResult Transfer(const KvHandoffOptions& options, const KvHandoffRequest& request, const KvPrefix& prefix,
                         Clock::time_point deadline) {
  KvHandoffResult r;
  r.id = request.id;
  r.node = request.node;
  r.move = scheduler::KvMove::kTransfer;
  const Clock::time_point start = Clock::now();
  const int32_t per_part = static_cast<int32_t>(
      std::max<uint64_t>(1, (kMaxKvBodyBytes - prefix.tokens.size() * 4 - 1024) / std::max<uint64_t>(prefix.bytes_per_block, 1)));
  for (int32_t first = prefix.first_block; first < prefix.num_blocks(); first += per_part) {
    const KvPrefix part = KvPrefixPart(prefix, first, per_part);
    StatusOr<int32_t> imported = SendKvPart(*options.client, *request.peer, options.token, part, deadline);
    if (!imported.ok()) {
      r.status = imported.status();
      break;
    }
    r.bytes += part.data.size();
    r.blocks += *imported;
  }
  r.tokens = r.blocks * prefix.block_size;
  r.seconds = Seconds(Clock::now() - start);
  return r;
}

}  // namespace

StatusOr<int32_t> SendKvPart(ForwardClient& client, const PeerAddress& peer, const std::string& token,
                             const KvPrefix& part, Clock::time_point deadline) {
  auto answer = std::make_shared<KvAnswer>();
  std::future<StatusOr<int32_t>> done = answer->future();
  const uint64_t stream =
      client.Open(peer, PeerPostRequest(peer, kKvPath, token, "application/octet-stream", EncodeKvPrefix(part)), answer);
  if (done.wait_until(deadline) != std::future_status::ready) {
    client.Close(stream);
    return Status::Unavailable("the KV transfer was not answered before the deadline");
  }
  return done.get();
}

KvHandoffSummary RunKvHandoff(const KvHandoffOptions& options, const std::vector<KvHandoffRequest>& requests,
                              Clock::time_point deadline, const std::function<void(const KvHandoffResult&)>& ready) {
  const Clock::time_point start = Clock::now();
  KvHandoffSummary summary;
  std::mutex mu;  // summary.results, and `ready` is called by one thread at a time
  auto report = [&](KvHandoffResult r) {
    std::lock_guard<std::mutex> lock(mu);
    ready(r);
    summary.results.push_back(std::move(r));
  };
  auto recompute = [&](const KvHandoffRequest& q, Status why = Status::Ok()) {
    KvHandoffResult r;
    r.id = q.id;
    r.node = q.node;
    r.status = std::move(why);
    report(std::move(r));
  };

  std::vector<const KvHandoffRequest*> movable;
  for (const KvHandoffRequest& q : requests) {
    if (options.policy == scheduler::KvMovePolicy::kRecompute || !q.peer || !options.client || !options.export_kv) {
      recompute(q);
    } else {
      movable.push_back(&q);
    }
  }
  if (movable.empty()) {
    summary.seconds = Seconds(Clock::now() - start);
    return summary;
  }
  std::vector<uint64_t> ids;
  for (const KvHandoffRequest* q : movable) ids.push_back(q->id);
  StatusOr<std::map<uint64_t, KvPrefix>> exported = options.export_kv(ids, &summary.prefill_tokens_per_second);
  if (!exported.ok()) {
    LogWarn("KV handoff: cannot read the requests' blocks; they are recomputed").Kv("error", exported.status().ToString());
    for (const KvHandoffRequest* q : movable) recompute(*q, exported.status());
    summary.seconds = Seconds(Clock::now() - start);
    return summary;
  }
  // Largest first: the first transfer measures the link, and the rest are chosen by it.
  auto bytes_of = [&](const KvHandoffRequest* q) -> uint64_t {
    auto it = exported->find(q->id);
    return it == exported->end() ? 0 : it->second.data.size();
  };
  std::stable_sort(movable.begin(), movable.end(),
                   [&](const KvHandoffRequest* a, const KvHandoffRequest* b) { return bytes_of(a) > bytes_of(b); });
  std::vector<std::thread> senders;
  for (const KvHandoffRequest* q : movable) {
    auto it = exported->find(q->id);
    if (it == exported->end()) {  // it finished meanwhile, or is not running: nothing to carry
      recompute(*q);
      continue;
    }
    const KvPrefix& prefix = it->second;
    double link = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      link = summary.link_bytes_per_second;
    }
    const scheduler::KvMoveEstimate e = scheduler::ChooseKvMove(options.policy, prefix.data.size(),
                                                                static_cast<int64_t>(prefix.tokens.size()), link,
                                                                summary.prefill_tokens_per_second);
    if (e.move == scheduler::KvMove::kRecompute) {
      recompute(*q);
      continue;
    }
    if (link == 0 && options.policy == scheduler::KvMovePolicy::kAuto) {
      // The probe: alone, so that its time is the link's.
      KvHandoffResult r = Transfer(options, *q, prefix, deadline);
      if (r.status.ok() && r.seconds > 0) {
        std::lock_guard<std::mutex> lock(mu);
        summary.link_bytes_per_second = static_cast<double>(r.bytes) / r.seconds;
      }
      report(std::move(r));
      continue;
    }
    senders.emplace_back([&, q, &prefix = prefix] { report(Transfer(options, *q, prefix, deadline)); });
  }
  for (std::thread& t : senders) t.join();
  if (summary.link_bytes_per_second == 0) {
    uint64_t bytes = 0;
    double seconds = 0;
    for (const KvHandoffResult& r : summary.results) {
      if (r.move == scheduler::KvMove::kTransfer && r.status.ok()) {
        bytes += r.bytes;
        seconds = std::max(seconds, r.seconds);
      }
    }
    if (seconds > 0) summary.link_bytes_per_second = static_cast<double>(bytes) / seconds;
  }
  summary.seconds = Seconds(Clock::now() - start);
  return summary;
}

}  // namespace hearth::daemon
