// A node's membership of the cluster (docs/cluster.md): it holds an etcd lease (TTL 10 s,
// renewed every third of it, one POST each), publishes its NodeRecord under the lease at
// PREFIX/nodes/NAME (again whenever the record changes), and reads the nodes' records once a
// tick: after the first read, only those written since (etcd's min_mod_revision) and how many
// there are (count_only at that revision); a count below what it holds means a record was
// deleted, and it reads them all again. A steady cluster's tick costs two small answers, not
// every record. A node whose lease is gone (expired while it was stopped or cut off from
// etcd) has no lease until it is granted a new one, and then publishes again. While etcd cannot be reached
// the node is degraded: it keeps serving what it hosts, and its view of the other nodes is the
// last one it read.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/etcd_client.h"
#include "cluster/node_record.h"

namespace hearth::cluster {

struct MembershipOptions {
  std::string prefix = "hearth/";  // every key the cluster writes starts with it
  int64_t ttl_seconds = 10;
  std::chrono::milliseconds tick{1000};  // how often the nodes are read and the record compared
};

struct Peer {
  NodeRecord record;
  int64_t lease = 0;
  int64_t mod_revision = 0;
};

struct MembershipView {
  bool enabled = false;       // a cluster is configured
  bool has_lease = false;     // this node holds a live lease and its record is published
  bool etcd_reachable = false;
  int64_t lease = 0;
  int64_t lease_granted_at = 0;  // unix seconds
  std::string last_error;        // of the last failed etcd call; empty after a good tick
  int64_t revision = 0;          // etcd's revision at the last read
  std::vector<Peer> nodes;       // every valid record, this node's included, by name
  int64_t invalid_records = 0;   // records under the prefix that did not decode, at the last read
  // Reads of the records since the node started: all of them (the first, and after a record
  // was deleted), or only those written since the last read.
  int64_t full_reads = 0;
  int64_t incremental_reads = 0;
};

class Membership {
 public:
  // `self` gives this node's record (its lease_granted_at is set here); called on the
  // membership's thread once a tick. `etcd` must outlive the membership.
  Membership(EtcdClient* etcd, std::function<NodeRecord()> self, MembershipOptions options);
  ~Membership();  // Stop()

  void Start();
  // Revokes the lease (the node leaves at once, not a TTL later) and joins. Safe to call twice.
  void Stop();
  // One tick on the caller's thread: renew or get a lease, publish, read the nodes.
  void Tick();

  MembershipView view() const;
  // The lease this node holds and counts on; 0 while it has none.
  int64_t held_lease() const;
  std::string NodeKey(const std::string& name) const { return options_.prefix + "nodes/" + name; }
  int64_t etcd_errors() const;

 private:
  static int64_t UnixNow();
  void Failed(const Status& st);  // REQUIRES(mu_)
  // Brings cache_ up to etcd's records: only what was written since the last read, unless a
  // record was deleted since (or nothing was read yet), then all of them (`full` set). On the
  // tick's thread, without mu_.
  Status ReadNodes(bool* full);

  // Constant after construction.
  EtcdClient* const etcd_;
  const std::function<NodeRecord()> self_;
  const MembershipOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // GUARDED_BY(mu_)
  MembershipView view_;    // GUARDED_BY(mu_)
  std::string published_;  // GUARDED_BY(mu_): the record as last put under the lease
  std::chrono::steady_clock::time_point renewed_at_{};  // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point renew_ok_at_{};  // GUARDED_BY(mu_): the last renewal that worked
  int64_t errors_ = 0;     // GUARDED_BY(mu_)
  std::mutex tick_mu_;     // one tick at a time
  // The records as last read, by key, and the revision they were read at (0: none yet).
  std::map<std::string, KeyValue> cache_;  // GUARDED_BY(tick_mu_)
  int64_t cache_revision_ = 0;              // GUARDED_BY(tick_mu_)
  std::thread thread_;
};

}  // namespace hearth::cluster
