#include "cluster/membership.h"

#include <algorithm>

#include "common/log.h"

namespace hearth::cluster {

using SteadyClock = std::chrono::steady_clock;

Membership::Membership(EtcdClient* etcd, std::function<NodeRecord()> self, MembershipOptions options)
    : etcd_(etcd), self_(std::move(self)), options_(std::move(options)) {
  view_.enabled = true;
}

Membership::~Membership() { Stop(); }

int64_t Membership::UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void Membership::Start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      lock.unlock();
      Tick();
      lock.lock();
      cv_.wait_for(lock, options_.tick, [this] { return stopping_; });
    }
  });
}

void Membership::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> tick(tick_mu_);
  int64_t lease = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    lease = view_.has_lease ? view_.lease : 0;
    view_.has_lease = false;
  }
  if (lease != 0) {
    Status st = etcd_->Revoke(lease);
    if (!st.ok()) LogWarn("cluster lease not revoked; it expires on its own").Kv("error", st.ToString());
  }
}

void Membership::Failed(const Status& st) {
  ++errors_;
  view_.last_error = st.ToString();
  view_.etcd_reachable = st.code() != Status::Code::kUnavailable;
}

int64_t Membership::etcd_errors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return errors_;
}

int64_t Membership::held_lease() const {
  std::lock_guard<std::mutex> lock(mu_);
  return view_.has_lease ? view_.lease : 0;
}

MembershipView Membership::view() const {
  std::lock_guard<std::mutex> lock(mu_);
  return view_;
}

Status Membership::ReadNodes(bool* full) {
  const std::string prefix = options_.prefix + "nodes/";
  if (cache_revision_ > 0) {
    StatusOr<RangeResult> changed = etcd_->GetPrefixSince(prefix, cache_revision_ + 1);
    if (!changed.ok()) return changed.status();
    // A revision that went back is another store (etcd restored or wiped): read it all.
    if (changed->revision >= cache_revision_) {
      // At the revision of that read, the number of keys: fewer than the cache then holds
      // means some were deleted (a lease expired or revoked), which only a full read shows.
      StatusOr<RangeResult> count = etcd_->CountPrefix(prefix, changed->revision);
      if (count.ok()) {
        for (KeyValue& kv : changed->kvs) cache_[kv.key] = std::move(kv);
        if (static_cast<size_t>(count->count) == cache_.size()) {
          cache_revision_ = changed->revision;
          return Status::Ok();
        }
      }
    }
  }
  *full = true;
  StatusOr<RangeResult> all = etcd_->GetPrefix(prefix);
  if (!all.ok()) {
    cache_revision_ = 0;  // read everything next time
    return all.status();
  }
  cache_.clear();
  for (KeyValue& kv : all->kvs) cache_[kv.key] = std::move(kv);
  cache_revision_ = all->revision;
  return Status::Ok();
}

void Membership::Tick() {
  std::lock_guard<std::mutex> tick(tick_mu_);
  const SteadyClock::time_point now = SteadyClock::now();
  const auto ttl = std::chrono::seconds(options_.ttl_seconds);
  std::unique_lock<std::mutex> lock(mu_);
  // A lease not renewed for a whole TTL may have expired: the node stops counting on it.
  if (view_.has_lease && now - renew_ok_at_ >= ttl) {
    LogWarn("cluster lease not renewed for its TTL: taking no routed work until renewed").Kv("lease", view_.lease);
    view_.has_lease = false;
  }
  // Renew every third of the TTL.
  if (view_.lease != 0 && now - renewed_at_ >= ttl / 3) {
    const int64_t lease = view_.lease;
    lock.unlock();
    StatusOr<int64_t> renewed = etcd_->KeepAlive(lease);
    lock.lock();
    renewed_at_ = now;
    if (renewed.ok()) {
      renew_ok_at_ = now;
      if (!view_.has_lease) published_.clear();  // back in time: publish again, to be sure
      view_.has_lease = true;
    } else if (renewed.status().code() == Status::Code::kNotFound) {
      LogWarn("cluster lease expired; asking for a new one").Kv("lease", lease);
      view_.lease = 0;
      view_.has_lease = false;
      published_.clear();
    } else {
      Failed(renewed.status());
    }
  }
  if (view_.lease == 0) {
    lock.unlock();
    StatusOr<int64_t> granted = etcd_->GrantLease(options_.ttl_seconds);
    lock.lock();
    if (!granted.ok()) {
      Failed(granted.status());
      return;
    }
    view_.lease = *granted;
    view_.lease_granted_at = UnixNow();
    view_.has_lease = true;
    renewed_at_ = renew_ok_at_ = now;
    published_.clear();
    LogInfo("cluster lease granted").Kv("lease", view_.lease).Kv("ttl_seconds", options_.ttl_seconds);
  }
  const int64_t lease = view_.lease, granted_at = view_.lease_granted_at;
  const std::string published = published_;
  lock.unlock();

  NodeRecord record = self_();
  record.lease_granted_at = granted_at;
  const std::string text = EncodeNodeRecord(record);
  Status st;
  if (text != published) {
    StatusOr<int64_t> put = etcd_->Put(NodeKey(record.name), text, lease);
    st = put.status();
    if (put.ok()) {
      std::lock_guard<std::mutex> relock(mu_);
      if (view_.lease == lease) published_ = text;
    } else if (put.status().code() == Status::Code::kFailedPrecondition) {
      // The lease went between the renewal and the put: a new one next tick.
      std::lock_guard<std::mutex> relock(mu_);
      if (view_.lease == lease) {
        view_.lease = 0;
        view_.has_lease = false;
      }
    }
  }
  bool full = false;
  Status read = st.ok() ? ReadNodes(&full) : st;
  lock.lock();
  if (!read.ok()) {
    Failed(read);
    return;
  }
  view_.etcd_reachable = true;
  view_.last_error.clear();
  view_.revision = cache_revision_;
  ++(full ? view_.full_reads : view_.incremental_reads);
  view_.nodes.clear();
  view_.invalid_records = 0;
  for (const auto& [key, kv] : cache_) {
    StatusOr<NodeRecord> r = DecodeNodeRecord(kv.value);
    if (!r.ok() || NodeKey(r->name) != kv.key) {
      ++view_.invalid_records;  // another writer's garbage is no node
      continue;
    }
    view_.nodes.push_back({std::move(r).value(), kv.lease, kv.mod_revision});
  }
}

}  // namespace hearth::cluster
