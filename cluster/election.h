// Which node leads the cluster's placement (docs/cluster.md, "Placement across nodes"), through
// etcd's election API under the node's membership lease: a node whose lease goes loses its
// candidacy and its leadership with it. The leader's epoch is the create revision of its
// election key, larger for every later leader. A leader writes only through WriteFenced, a
// transaction that holds only while its election key is still the one it was elected with, so
// a deposed leader (stopped past its TTL, cut off) cannot overwrite a newer leader's decisions.
//
// A thread campaigns whenever the node holds a lease and does not lead: etcd answers the
// campaign only once this node leads, so the call blocks (up to a deadline, then again), and
// it is abandoned as soon as the node stops or its lease changes. A node believes it leads
// until etcd says otherwise: a fenced write refused, or Observe finding another key leading.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cluster/etcd_client.h"

namespace hearth::cluster {

struct ElectionOptions {
  std::string name = "hearth/election";           // the election: every candidate's key starts with it
  std::chrono::milliseconds campaign_timeout{30000};  // one campaign call, then another
  std::chrono::milliseconds retry{500};            // after a failed campaign
};

struct ElectionView {
  bool leading = false;       // this node leads, as far as it knows
  int64_t epoch = 0;          // the current leader's epoch, as last observed (0: none known)
  std::string leader;         // the current leader's node name, as last observed (empty: none)
  int64_t my_epoch = 0;       // while leading: this node's epoch
  int64_t elected = 0;        // how often this node was elected
  int64_t fenced_writes_refused = 0;  // writes refused because this node no longer led
  std::string last_error;     // of the last failed etcd call
};

class Election {
 public:
  // `value` is this node's name (what the leader's key holds); `lease` gives the membership's
  // current lease (0 while it has none). `etcd` must outlive the election.
  Election(EtcdClient* etcd, std::string value, std::function<int64_t()> lease, ElectionOptions options);
  ~Election();  // Stop()

  void Start();
  // Resigns if leading (the next leader is elected at once, not a TTL later) and joins.
  void Stop();
  // One campaign on the caller's thread (blocks up to the campaign timeout): true when elected.
  bool CampaignOnce();

  // Puts `ops` only while this node's election key is still the one it was elected with: false
  // when refused (the node leads no more) or when it does not lead.
  StatusOr<bool> WriteFenced(const std::vector<TxnOp>& ops);
  // Asks etcd who leads: the view's leader and epoch; steps down when another key leads or none.
  Status Observe();

  ElectionView view() const;
  std::optional<LeaderKey> leadership() const;

 private:
  void StepDown(const char* why);  // REQUIRES(mu_)

  // Constant after construction.
  EtcdClient* const etcd_;
  const std::string value_;
  const std::function<int64_t()> lease_;
  const ElectionOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                 // GUARDED_BY(mu_)
  std::optional<LeaderKey> leadership_;   // GUARDED_BY(mu_)
  ElectionView view_;                     // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace hearth::cluster
