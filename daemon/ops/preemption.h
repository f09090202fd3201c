// Spot preemption notices (docs/durability.md, "Preemption notices"): where a notice comes from
// (a file that appears, an HTTP endpoint polled like a cloud metadata service, the admin API),
// and when hearthd, having stopped admitting, stops its engine and exits before the deadline.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"

namespace hearth::daemon {

using WallClock = std::chrono::system_clock;

struct PreemptionNotice {
  std::string source;              // "file PATH", "url URL", "admin API"
  WallClock::time_point received;  // when it was given (a notice file's mtime)
  WallClock::time_point deadline;  // when the machine goes away
};

// What a notice's text says: a notice file's content, or the body of a 200 from the endpoint.
//   "" or "true"              a notice; the configured grace period
//   "false"                   no notice (GCP's instance/preempted answers FALSE until it is)
//   "12.5"                    a notice; that many seconds of grace
//   {"grace_seconds": 12.5}   the same
//   {"time": "2026-11-27T00:20:00Z", ...}  a notice; that deadline (AWS spot/instance-action)
// Anything else is a notice with the configured grace: a notice is never dropped for its form.
struct NoticeText {
  bool is_notice = true;
  std::optional<double> grace_seconds;
  std::optional<WallClock::time_point> deadline;
};
NoticeText ParseNoticeText(std::string_view text);

// The deadline `text` gives to a notice received at `received`.
WallClock::time_point NoticeDeadline(const NoticeText& text, WallClock::time_point received,
                                     double default_grace_seconds);

// "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339 in UTC, fractions of a second ignored).
StatusOr<WallClock::time_point> ParseUtcTime(std::string_view text);

// The body of POST /admin/v1/preempt: empty, {}, or {"grace_seconds": N} with N in [0, 86400].
// nullopt: the configured grace period.
StatusOr<std::optional<double>> ParsePreemptRequest(const std::string& body);

// How long before the deadline the engine stops: 10% of the grace period, at least 2 s (one
// step to finish, the listeners and the worker to stop, the process to exit).
std::chrono::milliseconds SafetyMargin(std::chrono::milliseconds grace);

// The pure part: the notice in force and when to stop.
class PreemptionPlan {
 public:
  // Takes a notice: the first one, or one with an earlier deadline (a later notice never
  // extends the grace). True when it changed the plan.
  bool Take(const PreemptionNotice& notice);
  bool active() const { return notice_.has_value(); }
  const PreemptionNotice& notice() const { return *notice_; }
  // The deadline less SafetyMargin(grace), not before the notice was received.
  WallClock::time_point stop_at() const;
  // Stop now: the stop time came, or nothing is left to finish.
  bool ShouldStop(WallClock::time_point now, bool has_work) const {
    return active() && (now >= stop_at() || !has_work);
  }

 private:
  std::optional<PreemptionNotice> notice_;
};

// Where notices come from; polled by the watcher's thread.
class NoticeSource {
 public:
  virtual ~NoticeSource() = default;
  virtual std::chrono::milliseconds interval() const = 0;
  // The notice, if there is one now. Errors are logged here and count as no notice.
  virtual std::optional<PreemptionNotice> Poll() = 0;
};

// The notice is the file existing (polled every 200 ms); received at its mtime.
std::unique_ptr<NoticeSource> MakeFileNoticeSource(std::string path, double grace_seconds);
// GET `url` ("http://HOST:PORT/PATH") every `interval`: 200 is a notice (ParseNoticeText on its
// body), anything else (404, no connection) none.
StatusOr<std::unique_ptr<NoticeSource>> MakeUrlNoticeSource(const std::string& url, std::chrono::milliseconds interval,
                                                            double grace_seconds);

struct PreemptionWatcherOptions {
  std::vector<std::unique_ptr<NoticeSource>> sources;
  double grace_seconds = 30;  // the admin API's, when its request names none
  // The first notice, and each that shortens the deadline: stop admitting.
  std::function<void(const PreemptionNotice&, WallClock::time_point stop_at)> on_notice;
  std::function<bool()> has_work;  // requests queued or running
  // Once, at the stop time or when no work is left: stop the engine and exit.
  std::function<void(const std::string& why)> on_stop;
  std::chrono::milliseconds tick{100};
};

// A thread that polls the sources until a notice comes, then calls on_stop once.
class PreemptionWatcher {
 public:
  explicit PreemptionWatcher(PreemptionWatcherOptions options);
  ~PreemptionWatcher();  // Stop()

  void Start();
  void Stop();  // joins the thread; safe to call twice

  // A notice from the admin API (grace: the configured one when nullopt).
  void Notify(std::optional<double> grace_seconds);
  // The plan's state as JSON: {"preempting":..., "source", "grace_seconds", "seconds_to_stop",
  // "seconds_to_deadline"}.
  std::string StatusJson() const;

 private:
  void Run();
  void TakeNotice(const PreemptionNotice& notice);

  // Constant after construction.
  PreemptionWatcherOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  PreemptionPlan plan_;    // GUARDED_BY(mu_)
  bool stopping_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace hearth::daemon
