#include "daemon/ops/systemd_notifier.h"

#include "common/log.h"
#include "common/sd_notify.h"

namespace hearth::daemon {

SystemdNotifier::~SystemdNotifier() { Stop(); }

void SystemdNotifier::Ready(const std::string& status, std::function<HealthReport()> liveness) {
  Status st = SdNotify("READY=1\nSTATUS=" + status);
  if (!st.ok()) LogWarn("systemd notification failed").Kv("error", st.ToString());
  const auto interval = SdWatchdogInterval();
  if (!interval) return;
  LogInfo("systemd watchdog on").Kv("interval_ms", interval->count() / 1000);
  thread_ = std::thread([this, every = *interval / 2, liveness = std::move(liveness)] { Run(every, liveness); });
}

void SystemdNotifier::Run(std::chrono::microseconds every, std::function<HealthReport()> liveness) {
  bool was_ok = true;
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    const HealthReport health = liveness();
    if (health.ok) {
      SdNotify(was_ok ? "WATCHDOG=1" : "WATCHDOG=1\nSTATUS=serving");
    } else if (was_ok) {
      // No ping: systemd restarts the service when the interval runs out.
      SdNotify("STATUS=unhealthy: " + health.reason);
      LogError("unhealthy: withholding the systemd watchdog ping").Kv("reason", health.reason);
    }
    was_ok = health.ok;
    lock.lock();
    cv_.wait_for(lock, every, [this] { return stop_; });
  }
}

void SystemdNotifier::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SystemdNotifier::Stopping() {
  Stop();
  SdNotify("STOPPING=1");
}

}  // namespace hearth::daemon
