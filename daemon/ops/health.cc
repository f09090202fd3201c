#include "daemon/ops/health.h"

#include <chrono>
#include <cstdio>
#include <fstream>

#include "common/json_writer.h"

namespace hearth::daemon {
namespace {

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string Seconds(double s) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.0f", s);
  return buf;
}

}  // namespace

std::string HealthJson(const HealthReport& report, const char* bad_status, const ClusterHealth* cluster) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("status");
  w.String(report.ok ? "ok" : bad_status);
  if (!report.ok) {
    w.Key("reason");
    WriteString(w, report.reason);
  }
  if (cluster) {
    w.Key("cluster");
    WriteString(w, cluster->state);
    if (!cluster->reason.empty()) {
      w.Key("cluster_reason");
      WriteString(w, cluster->reason);
    }
  }
  w.EndObject();
  return buf.GetString();
}

HealthReport CheckReadiness(const ReadinessInput& in) {
  if (in.stopping) return {false, "the daemon is shutting down"};
  if (in.draining) return {false, "the daemon is draining"};
  if (!in.worker_running) return {false, "no worker is running"};
  if (in.models_loaded < 1) return {false, "no model is loaded"};
  return {};
}

bool ProcessRunning(pid_t pid) {
  if (pid <= 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  // "pid (comm) S ...": the state follows the last ')', since comm may hold anything.
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size()) return false;
  const char state = line[paren + 2];
  // A stopped process (SIGSTOP, a debugger) answers nothing: not running either.
  return state != 'Z' && state != 'X' && state != 'T' && state != 't';
}

// --- StallDetector -----------------------------------------------------------------------------

void StallDetector::Observe(double now_s, bool work_pending, int64_t tokens_generated) {
  // Progress: a token came out, or work just arrived (the clock starts with the work).
  if (tokens_generated != last_tokens_ || (work_pending && !pending_)) progress_s_ = now_s;
  pending_ = work_pending;
  last_tokens_ = tokens_generated;
  window_.emplace_back(now_s, tokens_generated);
  while (window_.size() > 2 && now_s - window_[1].first >= rate_window_s_) window_.pop_front();
}

HealthReport StallDetector::Check(double now_s) const {
  if (stall_seconds_ <= 0 || !pending_) return {};
  const double stalled = now_s - progress_s_;
  if (stalled <= stall_seconds_) return {};
  return {false, "work is pending but no token has been generated for " + Seconds(stalled) +
                     " s (health_stall_seconds = " + Seconds(stall_seconds_) + ")"};
}

double StallDetector::TokensPerSecond() const {
  if (window_.size() < 2) return 0;
  const double dt = window_.back().first - window_.front().first;
  if (dt <= 0) return 0;
  return static_cast<double>(window_.back().second - window_.front().second) / dt;
}

// --- HealthMonitor -----------------------------------------------------------------------------

HealthMonitor::HealthMonitor(double stall_seconds, std::function<HealthSample()> sample)
    : sample_(std::move(sample)), detector_(stall_seconds) {}

HealthMonitor::~HealthMonitor() { Stop(); }

void HealthMonitor::Start() {
  SampleNow();
  thread_ = std::thread([this] { Run(); });
}

void HealthMonitor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HealthMonitor::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) {
    lock.unlock();
    SampleNow();
    lock.lock();
  }
}

void HealthMonitor::SampleNow() {
  const HealthSample s = sample_();  // outside mu_: the engine takes its own lock
  std::lock_guard<std::mutex> lock(mu_);
  detector_.Observe(MonotonicSeconds(), s.work_pending, s.tokens_generated);
}

HealthReport HealthMonitor::Liveness() const {
  std::lock_guard<std::mutex> lock(mu_);
  return detector_.Check(MonotonicSeconds());
}

double HealthMonitor::TokensPerSecond() const {
  std::lock_guard<std::mutex> lock(mu_);
  return detector_.TokensPerSecond();
}

}  // namespace hearth::daemon
