#include "daemon/ops/health.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

namespace hearth::daemon {
namespace {

TEST(StallDetectorTest, IdleIsHealthyForever) {
  StallDetector d(60);
  d.Observe(0, false, 0);
  d.Observe(1000, false, 0);
  EXPECT_TRUE(d.Check(5000).ok);
}

TEST(StallDetectorTest, PendingWithoutTokensTurnsUnhealthyAfterTheStallTime) {
  StallDetector d(60);
  d.Observe(0, false, 0);
  d.Observe(100, true, 0);  // work arrives: the clock starts here, not at the last token
  EXPECT_TRUE(d.Check(150).ok);
  EXPECT_TRUE(d.Check(160).ok);
  HealthReport r = d.Check(161);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("no token has been generated for 61 s"), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("health_stall_seconds = 60"), std::string::npos) << r.reason;
}

TEST(StallDetectorTest, TokensKeepItHealthyAndRecoveryClearsIt) {
  StallDetector d(10);
  d.Observe(0, true, 0);
  d.Observe(8, true, 5);
  d.Observe(16, true, 9);
  EXPECT_TRUE(d.Check(20).ok);
  d.Observe(30, true, 9);
  EXPECT_FALSE(d.Check(30).ok);
  d.Observe(31, true, 10);
  EXPECT_TRUE(d.Check(31).ok);
  d.Observe(100, false, 10);  // finished: nothing pending
  EXPECT_TRUE(d.Check(200).ok);
}

TEST(StallDetectorTest, ZeroDisablesTheCheck) {
  StallDetector d(0);
  d.Observe(0, true, 0);
  EXPECT_TRUE(d.Check(1e6).ok);
}

TEST(StallDetectorTest, TokensPerSecondOverTheWindow) {
  StallDetector d(60, /*rate_window_seconds=*/10);
  EXPECT_EQ(d.TokensPerSecond(), 0);
  d.Observe(0, true, 0);
  EXPECT_EQ(d.TokensPerSecond(), 0);
  d.Observe(1, true, 50);
  EXPECT_DOUBLE_EQ(d.TokensPerSecond(), 50);
  for (int t = 2; t <= 30; ++t) d.Observe(t, true, 50 + (t - 1) * 20);  // 20/s from t=1 on
  EXPECT_DOUBLE_EQ(d.TokensPerSecond(), 20);
  for (int t = 31; t <= 45; ++t) d.Observe(t, false, 630);  // idle
  EXPECT_DOUBLE_EQ(d.TokensPerSecond(), 0);
}

TEST(ReadinessTest, NeedsAWorkerAndAModelAndNotStoppingOrDraining) {
  EXPECT_TRUE(CheckReadiness({.worker_running = true, .models_loaded = 1}).ok);
  HealthReport r = CheckReadiness({.worker_running = true, .models_loaded = 0});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.reason, "no model is loaded");
  EXPECT_EQ(CheckReadiness({.worker_running = false, .models_loaded = 2}).reason, "no worker is running");
  EXPECT_EQ(CheckReadiness({.stopping = true, .worker_running = true, .models_loaded = 2}).reason,
            "the daemon is shutting down");
  EXPECT_EQ(CheckReadiness({.draining = true, .worker_running = true, .models_loaded = 2}).reason,
            "the daemon is draining");
}

TEST(HealthJsonTest, OkAndReasons) {
  EXPECT_EQ(HealthJson({}, "unhealthy"), "{\"status\":\"ok\"}");
  EXPECT_EQ(HealthJson({false, "no \"model\""}, "not_ready"),
            "{\"status\":\"not_ready\",\"reason\":\"no \\\"model\\\"\"}");
}

TEST(ProcessRunningTest, SelfRunsAndNonsenseDoesNot) {
  EXPECT_TRUE(ProcessRunning(getpid()));
  EXPECT_FALSE(ProcessRunning(0));
  EXPECT_FALSE(ProcessRunning(-1));
}

TEST(ProcessRunningTest, ZombieIsNotRunning) {
  pid_t child = fork();
  if (child == 0) _exit(0);
  ASSERT_GT(child, 0);
  // Unreaped, it stays a zombie; wait for it to get there.
  bool zombie = false;
  for (int i = 0; i < 500 && !zombie; ++i) {
    zombie = !ProcessRunning(child);
    if (!zombie) usleep(10000);
  }
  EXPECT_TRUE(zombie);
  int status = 0;
  waitpid(child, &status, 0);
}

// A SIGSTOPped worker answers nothing: /readyz must not call it running.
TEST(ProcessRunningTest, StoppedIsNotRunningUntilContinued) {
  pid_t child = fork();
  if (child == 0) {
    for (;;) pause();
  }
  ASSERT_GT(child, 0);
  auto wait_for = [&](bool running) {
    for (int i = 0; i < 500; ++i) {
      if (ProcessRunning(child) == running) return true;
      usleep(10000);
    }
    return false;
  };
  EXPECT_TRUE(wait_for(true));
  kill(child, SIGSTOP);
  EXPECT_TRUE(wait_for(false));
  kill(child, SIGCONT);
  EXPECT_TRUE(wait_for(true));
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
}

TEST(HealthMonitorTest, SamplesOnStartAndReportsHealthy) {
  std::atomic<int> calls{0};
  HealthMonitor m(60, [&] {
    ++calls;
    return HealthSample{true, 7};
  });
  m.Start();
  EXPECT_GE(calls.load(), 1);
  EXPECT_TRUE(m.Liveness().ok);
  m.Stop();
  m.Stop();
}

}  // namespace
}  // namespace hearth::daemon
