// The server's open connections: admission against the overall and per-client-IP caps, and the
// list Stop() closes. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace hearth::http {

class Connection;

class ConnectionTable {
 public:
  ConnectionTable(size_t max_total, size_t max_per_ip) : max_total_(max_total), max_per_ip_(max_per_ip) {}

  // Counts a new connection from `ip` when both caps allow it; otherwise says which cap refused.
  bool TryAdmit(const std::string& ip, std::string* why);
  // Undoes TryAdmit (when the connection ends).
  void Release(const std::string& ip);

  // Remembers a live connection so that CloseAll() reaches it; Forget() when it ends.
  uint64_t Track(std::weak_ptr<Connection> connection);
  void Forget(uint64_t id);
  std::vector<std::shared_ptr<Connection>> Live();

  size_t num_admitted();
  size_t num_tracked();

 private:
  const size_t max_total_;
  const size_t max_per_ip_;

  std::mutex mu_;
  size_t total_ = 0;                                  // guarded by mu_
  std::unordered_map<std::string, size_t> per_ip_;    // guarded by mu_
  uint64_t next_id_ = 1;                              // guarded by mu_
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> live_;  // guarded by mu_
};

}  // namespace hearth::http
