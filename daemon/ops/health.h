// Liveness and readiness. /healthz turns unhealthy when work is pending but no token has come
// out for health_stall_seconds (a wedged worker or engine loop); /readyz passes once a worker
// runs and a model is loaded, and fails again while the daemon shuts down.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace hearth::daemon {

struct HealthReport {
  bool ok = true;
  std::string reason;  // why not, when !ok
};

// A node of a cluster: "member" or "degraded" (still ready: the node serves what it hosts),
// and why degraded.
struct ClusterHealth {
  std::string state;
  std::string reason;
};

// {"status":"ok"} or {"status":"unhealthy","reason":"..."} (or "not_ready" for readiness), and
// in a cluster "cluster":"member"|"degraded" (with "cluster_reason" when degraded).
std::string HealthJson(const HealthReport& report, const char* bad_status, const ClusterHealth* cluster = nullptr);

struct ReadinessInput {
  bool stopping = false;
  bool draining = false;
  bool worker_running = false;
  int64_t models_loaded = 0;
};
HealthReport CheckReadiness(const ReadinessInput& in);

// True while `pid` exists and is neither a zombie nor stopped (reads /proc; never reaps).
bool ProcessRunning(pid_t pid);

// Pure logic behind /healthz and the tokens-per-second gauge, fed with samples of the engine.
// Not thread-safe.
class StallDetector {
 public:
  // `stall_seconds` <= 0 disables the check.
  explicit StallDetector(double stall_seconds, double rate_window_seconds = 10)
      : stall_seconds_(stall_seconds), rate_window_s_(rate_window_seconds) {}

  // One sample at `now_s` (monotonic seconds): is work queued or running, and the engine's
  // running total of generated tokens.
  void Observe(double now_s, bool work_pending, int64_t tokens_generated);
  HealthReport Check(double now_s) const;
  // Tokens per second across the samples of the last rate window; 0 with fewer than two.
  double TokensPerSecond() const;

 private:
  // Constant after construction.
  const double stall_seconds_;
  const double rate_window_s_;

  bool pending_ = false;
  int64_t last_tokens_ = 0;
  double progress_s_ = 0;                          // last time a token came out or work arrived
  std::deque<std::pair<double, int64_t>> window_;  // (time, tokens) samples, oldest first
};

// What the monitor reads from the daemon once a second.
struct HealthSample {
  bool work_pending = false;     // requests queued or running
  int64_t tokens_generated = 0;  // running total
};

// Samples the daemon once a second on its own thread and answers /healthz from the latest
// sample. Thread-safe.
class HealthMonitor {
 public:
  HealthMonitor(double stall_seconds, std::function<HealthSample()> sample);
  ~HealthMonitor();  // Stop()

  void Start();
  void Stop();  // safe to call twice
  HealthReport Liveness() const;
  double TokensPerSecond() const;

 private:
  void Run();
  void SampleNow();

  const std::function<HealthSample()> sample_;  // constant after construction

  mutable std::mutex mu_;
  std::condition_variable cv_;
  StallDetector detector_;  // GUARDED_BY(mu_)
  bool stopping_ = false;   // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace hearth::daemon
