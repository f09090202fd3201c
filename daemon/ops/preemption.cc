#include "daemon/ops/preemption.h"

#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <fstream>

#include "common/json_parse.h"
#include "common/log.h"

namespace hearth::daemon {
namespace {

using std::chrono::milliseconds;

constexpr double kMaxGraceSeconds = 86400;
constexpr size_t kMaxNoticeBytes = 4096;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<double> ParseSeconds(std::string_view s) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || !(v >= 0) || v > kMaxGraceSeconds) return std::nullopt;
  return v;
}

milliseconds ToMillis(double seconds) { return milliseconds(static_cast<int64_t>(std::llround(seconds * 1000))); }

double SecondsBetween(WallClock::time_point from, WallClock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

class FileNoticeSource final : public NoticeSource {
 public:
  FileNoticeSource(std::string path, double grace) : path_(std::move(path)), grace_(grace) {}

  milliseconds interval() const override { return milliseconds(200); }

  std::optional<PreemptionNotice> Poll() override {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) return std::nullopt;
    std::string content(kMaxNoticeBytes, '\0');
    std::ifstream in(path_, std::ios::binary);
    in.read(content.data(), static_cast<std::streamsize>(content.size()));
    content.resize(static_cast<size_t>(std::max<std::streamsize>(in.gcount(), 0)));
    const NoticeText text = ParseNoticeText(content);
    if (!text.is_notice) return std::nullopt;
    // The file's mtime is when the notice was given: the grace counts from there, not from
    // this poll. A clock-skewed future mtime counts as now.
    const auto mtime = WallClock::time_point(std::chrono::duration_cast<WallClock::duration>(
        std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
    const auto received = std::min(mtime, WallClock::now());
    return PreemptionNotice{"file " + path_, received, NoticeDeadline(text, received, grace_)};
  }

 private:
  const std::string path_;
  const double grace_;
};

class UrlNoticeSource final : public NoticeSource {
 public:
  UrlNoticeSource(std::string url, std::string host, int port, std::string path, milliseconds interval, double grace)
      : url_(std::move(url)),
        host_(std::move(host)),
        port_(port),
        path_(std::move(path)),
        interval_(interval),
        grace_(grace) {}

  milliseconds interval() const override { return interval_; }

  std::optional<PreemptionNotice> Poll() override {
    httplib::Client cli(host_, port_);
    // Short: the watcher's thread waits for this (a metadata service answers at once).
    cli.set_connection_timeout(1, 0);
    cli.set_read_timeout(1, 0);
    httplib::Result res = cli.Get(path_.c_str(), {{"Metadata-Flavor", "Google"}});
    if (!res) {
      if (reachable_)
        LogWarn("preemption endpoint unreachable").Kv("url", url_).Kv("error", httplib::to_string(res.error()));
      reachable_ = false;
      return std::nullopt;
    }
    reachable_ = true;
    if (res->status != 200) return std::nullopt;  // 404: no notice (AWS)
    const NoticeText text = ParseNoticeText(std::string_view(res->body).substr(0, kMaxNoticeBytes));
    if (!text.is_notice) return std::nullopt;
    const auto now = WallClock::now();
    return PreemptionNotice{"url " + url_, now, NoticeDeadline(text, now, grace_)};
  }

 private:
  const std::string url_, host_;
  const int port_;
  const std::string path_;
  const milliseconds interval_;
  const double grace_;
  bool reachable_ = true;  // logs once per outage
};

}  // namespace

NoticeText ParseNoticeText(std::string_view raw) {
  NoticeText out;
  const std::string_view text = Trim(raw);
  if (text.empty() || EqualsIgnoreCase(text, "true")) return out;
  if (EqualsIgnoreCase(text, "false")) {
    out.is_notice = false;
    return out;
  }
  if (auto seconds = ParseSeconds(text)) {
    out.grace_seconds = seconds;
    return out;
  }
  rapidjson::Document d;
  if (!ParseJsonObject(text, &d).ok()) return out;
  if (d.HasMember("grace_seconds") && d["grace_seconds"].IsNumber()) {
    const double v = d["grace_seconds"].GetDouble();
    if (v >= 0 && v <= kMaxGraceSeconds) out.grace_seconds = v;
  }
  if (d.HasMember("time") && d["time"].IsString()) {
    StatusOr<WallClock::time_point> t = ParseUtcTime(d["time"].GetString());
    if (t.ok()) out.deadline = *t;
  }
  return out;
}

WallClock::time_point NoticeDeadline(const NoticeText& text, WallClock::time_point received,
                                     double default_grace_seconds) {
  if (text.deadline) return std::max(*text.deadline, received);
  const double grace = text.grace_seconds.value_or(default_grace_seconds);
  return received + std::chrono::duration_cast<WallClock::duration>(ToMillis(grace));
}

StatusOr<WallClock::time_point> ParseUtcTime(std::string_view text) {
  std::tm tm{};
  int consumed = 0;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &consumed) != 6) {
    return Status::InvalidArgument("expected YYYY-MM-DDTHH:MM:SSZ, got '" + s + "'");
  }
  std::string_view rest = std::string_view(s).substr(static_cast<size_t>(consumed));
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    while (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
  }
  if (rest != "Z" && rest != "+00:00") return Status::InvalidArgument("the time must be in UTC (Z), got '" + s + "'");
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    return Status::InvalidArgument("no such time: '" + s + "'");
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return WallClock::from_time_t(timegm(&tm));
}

StatusOr<std::optional<double>> ParsePreemptRequest(const std::string& body) {
  if (Trim(body).empty()) return std::optional<double>();
  rapidjson::Document d;
  if (Status parsed = ParseJsonObject(body, &d); !parsed.ok()) {
    return Status::InvalidArgument("the body is " + parsed.message());
  }
  if (!d.HasMember("grace_seconds") || d["grace_seconds"].IsNull()) return std::optional<double>();
  const rapidjson::Value& v = d["grace_seconds"];
  if (!v.IsNumber() || !(v.GetDouble() >= 0) || v.GetDouble() > kMaxGraceSeconds) {
    return Status::InvalidArgument("grace_seconds must be a number in [0, 86400]");
  }
  return std::optional<double>(v.GetDouble());
}

milliseconds SafetyMargin(milliseconds grace) { return std::max(milliseconds(2000), grace / 10); }

bool PreemptionPlan::Take(const PreemptionNotice& notice) {
  if (notice_ && notice.deadline >= notice_->deadline) return false;
  notice_ = notice;
  return true;
}

WallClock::time_point PreemptionPlan::stop_at() const {
  const auto grace = std::chrono::duration_cast<milliseconds>(notice_->deadline - notice_->received);
  return std::max(notice_->received, notice_->deadline - SafetyMargin(grace));
}

std::unique_ptr<NoticeSource> MakeFileNoticeSource(std::string path, double grace_seconds) {
  return std::make_unique<FileNoticeSource>(std::move(path), grace_seconds);
}

StatusOr<std::unique_ptr<NoticeSource>> MakeUrlNoticeSource(const std::string& url, milliseconds interval,
                                                            double grace_seconds) {
  const std::string_view scheme = "http://";
  auto bad = [&url](const std::string& why) {
    return Status::InvalidArgument("preemption.poll_url '" + url + "': " + why);
  };
  if (url.rfind(scheme, 0) != 0) return bad("must start with http:// (https is not supported)");
  const std::string rest = url.substr(scheme.size());
  const size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  const std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  const size_t colon = authority.rfind(':');
  std::string host = authority;
  int port = 80;
  if (colon != std::string::npos) {
    host = authority.substr(0, colon);
    const std::string p = authority.substr(colon + 1);
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
    if (ec != std::errc() || ptr != p.data() + p.size() || port < 1 || port > 65535) return bad("bad port");
  }
  if (host.empty()) return bad("no host");
  if (interval < milliseconds(10)) return bad("poll_interval_ms must be at least 10");
  return std::unique_ptr<NoticeSource>(
      std::make_unique<UrlNoticeSource>(url, host, port, path, interval, grace_seconds));
}

PreemptionWatcher::PreemptionWatcher(PreemptionWatcherOptions options) : options_(std::move(options)) {}

PreemptionWatcher::~PreemptionWatcher() { Stop(); }

void PreemptionWatcher::Start() {
  thread_ = std::thread([this] { Run(); });
}

void PreemptionWatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PreemptionWatcher::Notify(std::optional<double> grace_seconds) {
  const auto now = WallClock::now();
  NoticeText text;
  text.grace_seconds = grace_seconds.value_or(options_.grace_seconds);
  TakeNotice({"admin API", now, NoticeDeadline(text, now, options_.grace_seconds)});
}

void PreemptionWatcher::TakeNotice(const PreemptionNotice& notice) {
  WallClock::time_point stop_at;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!plan_.Take(notice)) return;
    stop_at = plan_.stop_at();
  }
  if (options_.on_notice) options_.on_notice(notice, stop_at);
  cv_.notify_all();
}

void PreemptionWatcher::Run() {
  std::vector<std::chrono::steady_clock::time_point> next_poll(options_.sources.size());
  int idle_ticks = 0;
  bool stopped = false;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (!plan_.active()) {
      // Sources matter until the first notice; after it only the admin API can shorten it.
      lock.unlock();
      for (size_t i = 0; i < options_.sources.size(); ++i) {
        const auto now = std::chrono::steady_clock::now();
        if (now < next_poll[i]) continue;
        next_poll[i] = now + options_.sources[i]->interval();
        if (std::optional<PreemptionNotice> n = options_.sources[i]->Poll()) {
          TakeNotice(*n);
          break;
        }
      }
      lock.lock();
    }
    if (plan_.active() && !stopped) {
      lock.unlock();
      // Idle twice in a row: a request between the admission check and the engine is seen.
      const bool busy = options_.has_work && options_.has_work();
      idle_ticks = busy ? 0 : idle_ticks + 1;
      const bool has_work = idle_ticks < 2;
      lock.lock();
      if (plan_.ShouldStop(WallClock::now(), has_work)) {
        stopped = true;
        lock.unlock();
        if (options_.on_stop) options_.on_stop(has_work ? "the deadline is near" : "no work left");
        lock.lock();
      }
    }
    cv_.wait_for(lock, options_.tick);
  }
}

std::string PreemptionWatcher::StatusJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("preempting");
  w.Bool(plan_.active());
  if (plan_.active()) {
    const auto now = WallClock::now();
    const PreemptionNotice& n = plan_.notice();
    w.Key("source");
    w.String(n.source.c_str());
    w.Key("grace_seconds");
    w.Double(SecondsBetween(n.received, n.deadline));
    w.Key("seconds_to_stop");
    w.Double(std::max(0.0, SecondsBetween(now, plan_.stop_at())));
    w.Key("seconds_to_deadline");
    w.Double(std::max(0.0, SecondsBetween(now, n.deadline)));
  }
  w.EndObject();
  return buf.GetString();
}

}  // namespace hearth::daemon
