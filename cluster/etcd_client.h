// A client of etcd's v3 JSON gateway (etcd 3.4: POST /v3/kv/*, /v3/lease/*, /v3/election/*), the cluster's
// engine for membership and fenced decisions (docs/cluster.md). Keys and values travel base64;
// 64-bit numbers come back as JSON strings; fields at their default are left out (a missing
// "TTL" is 0). Every answer is untrusted input: parsed with the one JSON reader, each field's
// type checked, and a malformed one is an error, never a crash.
//
// Blocking calls, one HTTP/1.0 POST each (cluster/http_post.h), each with a deadline. With several endpoints, a call that
// cannot reach one tries the next, and the one that answered is tried first next time. Errors:
// Unavailable (no endpoint answered, or answered 5xx), FailedPrecondition (etcd refused the
// request: 4xx, e.g. a lease that does not exist), Corruption (an answer that is not what the
// API says).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace hearth::cluster {

struct EtcdEndpoint {
  std::string host;
  int port = 2379;
};

// "http://HOST:PORT" (or HOST:PORT); https is not supported. InvalidArgument naming the problem.
StatusOr<EtcdEndpoint> ParseEtcdEndpoint(const std::string& url);

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

// What a range reads: filters of etcd's RangeRequest.
struct RangeFilter {
  int64_t min_mod_revision = 0;  // 0: none
  int64_t revision = 0;          // 0: the latest
  bool count_only = false;
};

struct RangeResult {
  int64_t revision = 0;  // the store's revision when it was read
  std::vector<KeyValue> kvs;
  int64_t count = 0;     // how many keys the range holds (all of them, even when kvs are filtered)
};

// One comparison of a transaction, always "equal": the key's `target` against `number` (its
// version, create or mod revision, or lease) or `value`. A key that does not exist has version,
// revisions and lease 0.
struct TxnCompare {
  enum class Target { kVersion, kCreate, kMod, kValue, kLease };
  std::string key;
  Target target = Target::kVersion;
  int64_t number = 0;
  std::string value;  // kValue only
};

// What a transaction does when every comparison holds: a put (under `lease`, 0: none) or a
// delete of `key`.
struct TxnOp {
  std::string key;
  std::string value;
  int64_t lease = 0;
  bool erase = false;
};

struct TxnResult {
  bool succeeded = false;
  int64_t revision = 0;  // the store's revision after it
};

// A leader of an election as etcd names it: the election's name, the leader's own key under
// it, that key's create revision (the leader's epoch: larger for every later leader) and the
// lease it lives under.
struct LeaderKey {
  std::string name;
  std::string key;
  int64_t rev = 0;
  int64_t lease = 0;
};

class EtcdClient {
 public:
  explicit EtcdClient(std::vector<EtcdEndpoint> endpoints,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

  // A lease of `ttl_seconds` (etcd may raise a tiny TTL to its minimum): its id.
  StatusOr<int64_t> GrantLease(int64_t ttl_seconds);
  // Renews the lease: its TTL from now; NotFound when it has expired or never was.
  StatusOr<int64_t> KeepAlive(int64_t lease);
  Status Revoke(int64_t lease);

  // Puts `key` (under `lease`, 0: none): the store's revision after the put.
  StatusOr<int64_t> Put(const std::string& key, const std::string& value, int64_t lease = 0);
  // Puts `key` only if its mod_revision is `mod_revision` (0: only if it does not exist): true
  // when it was put. The fencing step of a decision: read, decide, put if nobody wrote since.
  StatusOr<bool> PutIfModRevision(const std::string& key, const std::string& value, int64_t mod_revision,
                                  int64_t lease = 0);
  StatusOr<RangeResult> Get(const std::string& key);
  // Every key that starts with `prefix`, in key order.
  StatusOr<RangeResult> GetPrefix(const std::string& prefix);
  // The keys under `prefix` written at or after `min_mod_revision` (etcd's min_mod_revision
  // filter): what changed since a read at min_mod_revision - 1. Keys deleted since are not
  // among them; `count` still counts every key under the prefix.
  StatusOr<RangeResult> GetPrefixSince(const std::string& prefix, int64_t min_mod_revision);
  // How many keys `prefix` held at `revision` (count_only, read at that revision; etcd refuses a
  // revision it has compacted away: OutOfRange or FailedPrecondition).
  StatusOr<RangeResult> CountPrefix(const std::string& prefix, int64_t revision);
  // Deletes `key`: how many keys went (0 or 1).
  StatusOr<int64_t> Delete(const std::string& key);
  // Does `ops` only if every comparison holds: succeeded says which.
  StatusOr<TxnResult> Txn(const std::vector<TxnCompare>& compares, const std::vector<TxnOp>& ops);

  // Campaigns in `election` with `value` under `lease` (POST /v3/election/campaign): etcd answers
  // once this candidate leads, so the call blocks up to `timeout` or until `cancelled` says true
  // (asked every 100 ms). Giving up closes the connection, and etcd withdraws the candidacy.
  // Unavailable when it gave up or etcd could not be reached; FailedPrecondition for a lease etcd
  // does not know.
  StatusOr<LeaderKey> Campaign(const std::string& election, const std::string& value, int64_t lease,
                               std::chrono::milliseconds timeout, const std::function<bool()>& cancelled = {});
  // The election's leader's key and value (POST /v3/election/leader); NotFound when none leads.
  StatusOr<KeyValue> Leader(const std::string& election);
  // Gives up leadership (POST /v3/election/resign): the leader's key goes.
  Status Resign(const LeaderKey& leader);

 private:
  // POSTs `body` to `path`; the parsed answer's text.
  StatusOr<std::string> Call(const std::string& path, const std::string& body);
  StatusOr<std::string> Call(const std::string& path, const std::string& body, std::chrono::milliseconds timeout,
                             const std::function<bool()>& cancelled);
  StatusOr<RangeResult> Range(const std::string& key, const std::string& range_end, const RangeFilter& filter = {});

  const std::vector<EtcdEndpoint> endpoints_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  size_t preferred_ = 0;  // GUARDED_BY(mu_): the endpoint that answered last
};

}  // namespace hearth::cluster
