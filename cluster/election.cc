#include "cluster/election.h"

#include "cluster/node_record.h"
#include "common/log.h"

namespace hearth::cluster {

Election::Election(EtcdClient* etcd, std::string value, std::function<int64_t()> lease, ElectionOptions options)
    : etcd_(etcd), value_(std::move(value)), lease_(std::move(lease)), options_(std::move(options)) {}

Election::~Election() { Stop(); }

void Election::Start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      // A leader waits until it is deposed; Observe and WriteFenced find out.
      cv_.wait(lock, [this] { return stopping_ || !leadership_; });
      if (stopping_) return;
      lock.unlock();
      const bool elected = CampaignOnce();
      lock.lock();
      if (!elected) cv_.wait_for(lock, options_.retry, [this] { return stopping_; });
    }
  });
}

void Election::Stop() {
  std::optional<LeaderKey> resign;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    resign = leadership_;
    if (leadership_) StepDown("stopping");
  }
  if (resign) {
    Status st = etcd_->Resign(*resign);
    if (!st.ok()) LogWarn("placement leadership not resigned; it goes with the lease").Kv("error", st.ToString());
  }
}

bool Election::CampaignOnce() {
  const int64_t lease = lease_();
  if (lease == 0) return false;
  // Abandoned when the node stops or its lease changes: a candidacy under a dead lease is void.
  auto cancelled = [this, lease] {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return true;
    }
    return lease_() != lease;
  };
  StatusOr<LeaderKey> won = etcd_->Campaign(options_.name, value_, lease, options_.campaign_timeout, cancelled);
  if (!won.ok()) {
    // Unavailable is also the deadline: not elected this time.
    std::lock_guard<std::mutex> lock(mu_);
    if (won.status().code() != Status::Code::kUnavailable) view_.last_error = won.status().ToString();
    return false;
  }
  // etcd answers a campaign once every older candidate has gone, even when this one's key went
  // with its lease meanwhile: the key must still be there, under this lease.
  StatusOr<RangeResult> mine = etcd_->Get(won->key);
  if (!mine.ok() || mine->kvs.size() != 1 || mine->kvs[0].create_revision != won->rev ||
      mine->kvs[0].lease != lease) {
    std::lock_guard<std::mutex> lock(mu_);
    view_.last_error = mine.ok() ? "elected with a key that is gone" : mine.status().ToString();
    return false;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return false;
  leadership_ = *won;
  view_.leading = true;
  view_.my_epoch = won->rev;
  view_.epoch = won->rev;
  view_.leader = value_;
  ++view_.elected;
  LogInfo("elected placement leader").Kv("node", value_).Kv("epoch", won->rev);
  return true;
}

void Election::StepDown(const char* why) {
  if (!leadership_) return;
  LogWarn("no longer the placement leader").Kv("node", value_).Kv("epoch", leadership_->rev).Kv("why", why);
  leadership_.reset();
  view_.leading = false;
  view_.my_epoch = 0;
  cv_.notify_all();
}

StatusOr<bool> Election::WriteFenced(const std::vector<TxnOp>& ops) {
  const std::optional<LeaderKey> mine = leadership();
  if (!mine) return false;
  TxnCompare still_mine;
  still_mine.key = mine->key;
  still_mine.target = TxnCompare::Target::kCreate;
  still_mine.number = mine->rev;  // a key that is gone has create revision 0
  StatusOr<TxnResult> r = etcd_->Txn({still_mine}, ops);
  std::lock_guard<std::mutex> lock(mu_);
  if (!r.ok()) {
    view_.last_error = r.status().ToString();
    return r.status();
  }
  if (!r->succeeded) {
    ++view_.fenced_writes_refused;
    LogWarn("fenced placement write refused: a newer leader decides").Kv("epoch", mine->rev);
    if (leadership_ && leadership_->key == mine->key) StepDown("fenced write refused");
  }
  return r->succeeded;
}

Status Election::Observe() {
  StatusOr<KeyValue> leader = etcd_->Leader(options_.name);
  std::lock_guard<std::mutex> lock(mu_);
  if (!leader.ok() && leader.status().code() == Status::Code::kNotFound) {
    view_.leader.clear();
    view_.epoch = 0;
    StepDown("no leader in etcd");
    return Status::Ok();
  }
  if (!leader.ok()) {
    view_.last_error = leader.status().ToString();
    return leader.status();
  }
  // Untrusted like every answer: a leader's value is a node name.
  if (!ValidNodeName(leader->value)) {
    view_.last_error = "the election's leader holds no node name";
    return Status::Corruption(view_.last_error);
  }
  view_.leader = leader->value;
  view_.epoch = leader->create_revision;
  if (leadership_ && (leadership_->key != leader->key || leadership_->rev != leader->create_revision)) {
    StepDown("another key leads");
  }
  return Status::Ok();
}

ElectionView Election::view() const {
  std::lock_guard<std::mutex> lock(mu_);
  return view_;
}

std::optional<LeaderKey> Election::leadership() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leadership_;
}

}  // namespace hearth::cluster
