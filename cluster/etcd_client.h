// A client of etcd's v3 JSON gateway (etcd 3.4: POST /v3/kv/*, /v3/lease/*), the cluster's
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

struct RangeResult {
  int64_t revision = 0;  // the store's revision when it was read
  std::vector<KeyValue> kvs;
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
  // Deletes `key`: how many keys went (0 or 1).
  StatusOr<int64_t> Delete(const std::string& key);

 private:
  // POSTs `body` to `path`; the parsed answer's text.
  StatusOr<std::string> Call(const std::string& path, const std::string& body);
  StatusOr<RangeResult> Range(const std::string& key, const std::string& range_end);

  const std::vector<EtcdEndpoint> endpoints_;
  const std::chrono::milliseconds timeout_;
  std::mutex mu_;
  size_t preferred_ = 0;  // GUARDED_BY(mu_): the endpoint that answered last
};

}  // namespace hearth::cluster
