// Tells systemd how hearthd is doing (Type=notify): READY=1 with a STATUS=
// line once serving, WATCHDOG=1 every half watchdog interval while the daemon
// is healthy (an unhealthy daemon stops pinging, so systemd restarts it), and
// STOPPING=1 on the way out. A no-op outside systemd.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/ops/health.h"

namespace hearth::daemon {

class SystemdNotifier {
 public:
  ~SystemdNotifier();  // Stop()

  // Sends READY=1 and `status`, then pings the watchdog while `liveness` says ok.
  void Ready(const std::string& status, std::function<HealthReport()> liveness);
  // Stops the pings and sends STOPPING=1.
  void Stopping();

 private:
  void Stop();
  void Run(std::chrono::microseconds every, std::function<HealthReport()> liveness);

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace hearth::daemon
