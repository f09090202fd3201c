#include "daemon/ops/preemption.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>

namespace hearth::daemon {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

WallClock::time_point At(int64_t unix_seconds) { return WallClock::from_time_t(unix_seconds); }

TEST(NoticeText, EmptyOrTrueIsANoticeWithTheConfiguredGrace) {
  for (const char* text : {"", "  \n", "true", "TRUE\n"}) {
    NoticeText t = ParseNoticeText(text);
    EXPECT_TRUE(t.is_notice) << text;
    EXPECT_FALSE(t.grace_seconds.has_value()) << text;
    EXPECT_FALSE(t.deadline.has_value()) << text;
  }
}

TEST(NoticeText, FalseIsNoNotice) {
  EXPECT_FALSE(ParseNoticeText("FALSE").is_notice);  // GCP's instance/preempted
  EXPECT_FALSE(ParseNoticeText("false\n").is_notice);
}

TEST(NoticeText, SecondsLeft) {
  EXPECT_EQ(ParseNoticeText("12.5\n").grace_seconds.value_or(-1), 12.5);
  EXPECT_EQ(ParseNoticeText(R"({"grace_seconds": 7})").grace_seconds.value_or(-1), 7.0);
}

TEST(NoticeText, AwsInstanceActionTime) {
  NoticeText t = ParseNoticeText(R"({"action": "terminate", "time": "2026-11-27T00:20:00Z"})");
  EXPECT_TRUE(t.is_notice);
  ASSERT_TRUE(t.deadline.has_value());
  EXPECT_EQ(*t.deadline, At(1795738800));
}

TEST(NoticeText, AnythingElseIsStillANotice) {
  for (const char* text : {"hello", "-5", "[1,2]", R"({"grace_seconds": -3})", R"({"time": "soon"})"}) {
    NoticeText t = ParseNoticeText(text);
    EXPECT_TRUE(t.is_notice) << text;
    EXPECT_FALSE(t.grace_seconds.has_value()) << text;
    EXPECT_FALSE(t.deadline.has_value()) << text;
  }
}

TEST(NoticeDeadline, GraceCountsFromReceipt) {
  const auto received = At(1000);
  EXPECT_EQ(NoticeDeadline(ParseNoticeText(""), received, 30), At(1030));
  EXPECT_EQ(NoticeDeadline(ParseNoticeText("10"), received, 30), At(1010));
  EXPECT_EQ(NoticeDeadline(ParseNoticeText("0.5"), received, 30), received + 500ms);
  // A deadline already past is now.
  EXPECT_EQ(NoticeDeadline(ParseNoticeText(R"({"time":"1970-01-01T00:01:40Z"})"), received, 30), received);
}

TEST(UtcTime, Parses) {
  EXPECT_EQ(*ParseUtcTime("1970-01-01T00:01:40Z"), At(100));
  EXPECT_EQ(*ParseUtcTime("2026-11-27T00:20:00.250Z"), At(1795738800));
  EXPECT_EQ(*ParseUtcTime("2026-11-27T00:20:00+00:00"), At(1795738800));
  for (const char* bad : {"", "2026-11-27", "2026-11-27T00:20:00", "2026-11-27T00:20:00+02:00", "2026-13-27T00:20:00Z",
                          "2026-11-27T25:20:00Z", "2026-11-27T00:20:00Zjunk"}) {
    EXPECT_FALSE(ParseUtcTime(bad).ok()) << bad;
  }
}

TEST(PreemptRequest, Grace) {
  EXPECT_FALSE(ParsePreemptRequest("")->has_value());
  EXPECT_FALSE(ParsePreemptRequest("{}")->has_value());
  EXPECT_FALSE(ParsePreemptRequest(R"({"grace_seconds": null})")->has_value());
  EXPECT_EQ(**ParsePreemptRequest(R"({"grace_seconds": 10})"), 10.0);
  EXPECT_EQ(**ParsePreemptRequest(R"({"grace_seconds": 0})"), 0.0);
  for (const char* bad :
       {"[1]", "nope", R"({"grace_seconds": -1})", R"({"grace_seconds": "10"})", R"({"grace_seconds": 1e9})"}) {
    StatusOr<std::optional<double>> r = ParsePreemptRequest(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << bad;
  }
}

TEST(PreemptRequest, DeepNestingIsAnErrorNotACrash) {
  const std::string deep(1'000'000, '[');
  StatusOr<std::optional<double>> r = ParsePreemptRequest(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nested deeper than"), std::string::npos) << r.status().ToString();
  // A notice file or URL answering that is still a notice, with the configured grace.
  NoticeText t = ParseNoticeText(deep);
  EXPECT_TRUE(t.is_notice);
  EXPECT_FALSE(t.grace_seconds.has_value());
}

TEST(SafetyMargin, TenPercentAtLeastTwoSeconds) {
  EXPECT_EQ(SafetyMargin(0ms), 2000ms);
  EXPECT_EQ(SafetyMargin(10s), 2000ms);
  EXPECT_EQ(SafetyMargin(30s), 3000ms);    // GCP
  EXPECT_EQ(SafetyMargin(120s), 12000ms);  // AWS
}

TEST(PreemptionPlan, EarliestDeadlineWinsAndStopLeavesTheMargin) {
  PreemptionPlan plan;
  EXPECT_FALSE(plan.active());
  EXPECT_FALSE(plan.ShouldStop(At(5000), false));
  EXPECT_TRUE(plan.Take({"file", At(1000), At(1030)}));
  EXPECT_TRUE(plan.active());
  EXPECT_EQ(plan.stop_at(), At(1027));
  EXPECT_FALSE(plan.Take({"admin API", At(1001), At(1100)}));  // never extended
  EXPECT_EQ(plan.notice().deadline, At(1030));
  EXPECT_TRUE(plan.Take({"admin API", At(1002), At(1012)}));
  EXPECT_EQ(plan.notice().source, "admin API");
  EXPECT_EQ(plan.stop_at(), At(1010));
  EXPECT_FALSE(plan.ShouldStop(At(1009), true));
  EXPECT_TRUE(plan.ShouldStop(At(1010), true));
  EXPECT_TRUE(plan.ShouldStop(At(1003), false));  // nothing left to finish
}

TEST(PreemptionPlan, GraceShorterThanTheMarginStopsAtOnce) {
  PreemptionPlan plan;
  plan.Take({"admin API", At(1000), At(1001)});
  EXPECT_EQ(plan.stop_at(), At(1000));
  EXPECT_TRUE(plan.ShouldStop(At(1000), true));
}

class TempFile {
 public:
  TempFile() {
    char dir[] = "/tmp/hearth-preempt-XXXXXX";
    dir_ = ::mkdtemp(dir);
    path_ = dir_ + "/notice";
  }
  ~TempFile() { std::filesystem::remove_all(dir_); }
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
};

TEST(FileNoticeSource, TheFileAppearingIsTheNoticeReceivedAtItsMtime) {
  TempFile f;
  auto source = MakeFileNoticeSource(f.path(), 30);
  EXPECT_FALSE(source->Poll().has_value());
  std::ofstream(f.path()) << "10\n";
  const timespec times[2] = {{1000, 0}, {1000, 0}};  // atime, mtime
  ASSERT_EQ(::utimensat(AT_FDCWD, f.path().c_str(), times, 0), 0);
  std::optional<PreemptionNotice> n = source->Poll();
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->received, At(1000));
  EXPECT_EQ(n->deadline, At(1010));
  EXPECT_EQ(n->source, "file " + f.path());
}

TEST(FileNoticeSource, EmptyFileUsesTheConfiguredGraceAndFalseIsNone) {
  TempFile f;
  auto source = MakeFileNoticeSource(f.path(), 30);
  std::ofstream(f.path()).close();
  std::optional<PreemptionNotice> n = source->Poll();
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->deadline - n->received, 30s);
  std::ofstream(f.path()) << "false";
  EXPECT_FALSE(source->Poll().has_value());
}

TEST(UrlNoticeSource, RejectsBadUrls) {
  for (const char* bad : {"https://127.0.0.1:1/x", "127.0.0.1:80/x", "http://:80/x", "http://host:0/x",
                          "http://host:99999/x", "http://host:8o/x"}) {
    EXPECT_FALSE(MakeUrlNoticeSource(bad, 1000ms, 30).ok()) << bad;
  }
  EXPECT_TRUE(MakeUrlNoticeSource("http://169.254.169.254/latest/meta-data/spot/instance-action", 1000ms, 30).ok());
}

TEST(UrlNoticeSource, NotFoundAndRefusedAreNoNoticeAndOkIsOne) {
  httplib::Server server;
  std::atomic<int> answer{404};
  std::string header;
  server.Get("/spot", [&](const httplib::Request& req, httplib::Response& res) {
    header = req.get_header_value("Metadata-Flavor");
    res.status = answer;
    res.set_content(answer == 200 ? R"({"grace_seconds": 7})" : "not found", "text/plain");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread t([&] { server.listen_after_bind(); });
  auto source = MakeUrlNoticeSource("http://127.0.0.1:" + std::to_string(port) + "/spot", 50ms, 30);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_EQ((*source)->interval(), 50ms);
  EXPECT_FALSE((*source)->Poll().has_value());
  EXPECT_EQ(header, "Google");
  answer = 200;
  std::optional<PreemptionNotice> n = (*source)->Poll();
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->deadline - n->received, 7s);
  server.stop();
  t.join();
  EXPECT_FALSE((*source)->Poll().has_value());  // connection refused
}

// A source the test switches on.
class SwitchSource final : public NoticeSource {
 public:
  explicit SwitchSource(std::atomic<bool>* on) : on_(on) {}
  milliseconds interval() const override { return 10ms; }
  std::optional<PreemptionNotice> Poll() override {
    if (!*on_) return std::nullopt;
    const auto now = WallClock::now();
    return PreemptionNotice{"switch", now, now + 3600s};
  }

 private:
  std::atomic<bool>* on_;
};

TEST(PreemptionWatcher, StopsOnceTheWorkIsDone) {
  std::atomic<bool> notice{false}, work{true};
  std::promise<std::string> stopped;
  std::promise<void> noticed;
  PreemptionWatcherOptions o;
  o.sources.push_back(std::make_unique<SwitchSource>(&notice));
  o.on_notice = [&](const PreemptionNotice& n, WallClock::time_point) {
    EXPECT_EQ(n.source, "switch");
    noticed.set_value();
  };
  o.has_work = [&] { return work.load(); };
  std::atomic<int> stops{0};
  o.on_stop = [&](const std::string& why) {
    if (stops++ == 0) stopped.set_value(why);
  };
  o.tick = 5ms;
  PreemptionWatcher watcher(std::move(o));
  watcher.Start();
  EXPECT_NE(watcher.StatusJson().find("\"preempting\":false"), std::string::npos);
  notice = true;
  ASSERT_EQ(noticed.get_future().wait_for(30s), std::future_status::ready);
  EXPECT_NE(watcher.StatusJson().find("\"preempting\":true"), std::string::npos);
  auto stop = stopped.get_future();
  // With an hour of grace and work left, it waits.
  EXPECT_EQ(stop.wait_for(200ms), std::future_status::timeout);
  work = false;
  ASSERT_EQ(stop.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(stop.get(), "no work left");
  watcher.Stop();
  EXPECT_EQ(stops, 1);
}

TEST(PreemptionWatcher, AdminNoticeWithoutGraceStopsAtOnceDespiteWork) {
  std::promise<std::string> stopped;
  PreemptionWatcherOptions o;
  o.grace_seconds = 3600;
  o.has_work = [] { return true; };
  o.on_stop = [&](const std::string& why) { stopped.set_value(why); };
  o.tick = 5ms;
  PreemptionWatcher watcher(std::move(o));
  watcher.Start();
  watcher.Notify(0.0);
  auto stop = stopped.get_future();
  ASSERT_EQ(stop.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(stop.get(), "the deadline is near");
  EXPECT_NE(watcher.StatusJson().find("\"source\":\"admin API\""), std::string::npos);
}

}  // namespace
}  // namespace hearth::daemon
