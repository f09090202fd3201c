// hearthd under a stand-in for systemd: its NOTIFY_SOCKET receives READY=1
// once the API answers, WATCHDOG=1 at half the watchdog interval, and
// STOPPING=1 on SIGTERM, before a clean exit.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/test_process.h"

namespace hearth::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Messages received on the socket until `done` says stop or the time runs out.
template <typename Done>
std::vector<std::string> Collect(int fd, int timeout_ms, Done done) {
  std::vector<std::string> got;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline && !done(got)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) got.emplace_back(buf, n);
  }
  return got;
}

int Count(const std::vector<std::string>& msgs, const std::string& needle) {
  int n = 0;
  for (const auto& m : msgs) n += m.find(needle) != std::string::npos;
  return n;
}

TEST(SystemdNotify, ReadyWatchdogStopping) {
  const std::string dir = TempDir();
  const std::string sock_path = dir + "/notify.sock";
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock_path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(0, ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)));

  ::setenv("NOTIFY_SOCKET", sock_path.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "200000", 1);  // pings every 100 ms
  const int port = FreePort();
  ChildProcess d({BinaryPath("hearthd"), "--listen", "127.0.0.1:" + std::to_string(port), "--admin-listen",
                  "127.0.0.1:" + std::to_string(FreePort()), "--data-dir", dir + "/data", "--config", ""},
                 dir + "/hearthd.log");
  ::unsetenv("NOTIFY_SOCKET");
  ::unsetenv("WATCHDOG_USEC");

  auto ready = Collect(fd, 20000, [](const auto& m) { return Count(m, "READY=1") > 0; });
  ASSERT_EQ(Count(ready, "READY=1"), 1) << d.Log();
  EXPECT_NE(ready.back().find("STATUS=serving on 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << ready.back();
  // Ready means serving: the API answers at once.
  EXPECT_EQ(HttpGet(port, "/healthz").status, 200);

  auto pings = Collect(fd, 10000, [](const auto& m) { return Count(m, "WATCHDOG=1") >= 3; });
  EXPECT_GE(Count(pings, "WATCHDOG=1"), 3) << d.Log();

  d.Signal(SIGTERM);
  auto stopping = Collect(fd, 5000, [](const auto& m) { return Count(m, "STOPPING=1") > 0; });
  EXPECT_EQ(Count(stopping, "STOPPING=1"), 1) << d.Log();
  std::optional<int> status = d.Wait(5000);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << d.Log();
  ::close(fd);
  std::filesystem::remove_all(dir);
}

// Without NOTIFY_SOCKET nothing changes (covered by every other daemon test);
// a socket path that cannot be reached must not stop hearthd from serving.
TEST(SystemdNotify, UnreachableSocketStillServes) {
  const std::string dir = TempDir();
  ::setenv("NOTIFY_SOCKET", (dir + "/missing.sock").c_str(), 1);
  const int port = FreePort();
  ChildProcess d({BinaryPath("hearthd"), "--listen", "127.0.0.1:" + std::to_string(port), "--admin-listen",
                  "127.0.0.1:" + std::to_string(FreePort()), "--data-dir", dir + "/data", "--config", ""},
                 dir + "/hearthd.log");
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(WaitHealthy(port, 20000)) << d.Log();
  d.Signal(SIGTERM);
  std::optional<int> status = d.Wait(5000);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << d.Log();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hearth::testing
