#include "daemon/http/connection_table.h"

namespace hearth::http {

bool ConnectionTable::TryAdmit(const std::string& ip, std::string* why) {
  std::lock_guard<std::mutex> lock(mu_);
  if (total_ >= max_total_) {
    *why = "too many open connections (" + std::to_string(max_total_) + ")";
    return false;
  }
  size_t& mine = per_ip_[ip];
  if (mine >= max_per_ip_) {
    if (mine == 0) per_ip_.erase(ip);
    *why = "too many open connections from " + ip + " (" + std::to_string(max_per_ip_) + ")";
    return false;
  }
  ++mine;
  ++total_;
  return true;
}

void ConnectionTable::Release(const std::string& ip) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = per_ip_.find(ip);
  if (it == per_ip_.end()) return;
  if (--it->second == 0) per_ip_.erase(it);
  --total_;
}

uint64_t ConnectionTable::Track(std::weak_ptr<Connection> connection) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_id_++;
  live_.emplace(id, std::move(connection));
  return id;
}

void ConnectionTable::Forget(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  live_.erase(id);
}

std::vector<std::shared_ptr<Connection>> ConnectionTable::Live() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<Connection>> out;
  for (auto& [id, weak] : live_) {
    if (auto c = weak.lock()) out.push_back(std::move(c));
  }
  return out;
}

size_t ConnectionTable::num_admitted() {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

size_t ConnectionTable::num_tracked() {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.size();
}

}  // namespace hearth::http
