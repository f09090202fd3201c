#include "daemon/models/load_recorder.h"

#include <algorithm>

#include "common/log.h"

namespace hearth::daemon {

LoadRecorder::LoadRecorder(store::LoadHistoryStore* store, scheduler::ForecastOptions options)
    : store_(store), options_(options), tracker_(options.window_seconds * 1000) {}

LoadRecorder::~LoadRecorder() { Stop(); }

int64_t LoadRecorder::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void LoadRecorder::Start() {
  thread_ = std::thread([this] { Run(); });
}

void LoadRecorder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  Status st = Flush();
  if (!st.ok()) LogWarn("load history not written").Kv("error", st.ToString());
}

void LoadRecorder::Arrive(const std::string& model) {
  std::lock_guard<std::mutex> lock(mu_);
  tracker_.Arrive(model, NowMs());
}

void LoadRecorder::Leave(const std::string& model) {
  std::lock_guard<std::mutex> lock(mu_);
  tracker_.Leave(model, NowMs());
}

Status LoadRecorder::Flush() {
  std::vector<scheduler::ClosedWindow> closed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed = tracker_.Advance(NowMs());
  }
  std::vector<store::LoadWindow> rows;
  for (const scheduler::ClosedWindow& w : closed) {
    rows.push_back({w.model, w.start_ms / 1000, options_.window_seconds, w.load.avg, w.load.peak, w.arrivals});
  }
  return store_->Put(rows);
}

void LoadRecorder::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::seconds(1));
    if (stopping_) break;
    lock.unlock();
    Status st = Flush();
    if (!st.ok()) LogWarn("load history not written").Kv("error", st.ToString());
    lock.lock();
  }
}

StatusOr<LoadHistory> LoadRecorder::HistoryOf(const std::string& model, int64_t limit) {
  HEARTH_RETURN_IF_ERROR(Flush());
  const int64_t window = options_.window_seconds;
  // Enough windows for the baseline (a few periods back) and the residuals.
  const int64_t per_period = std::max<int64_t>(1, options_.period_seconds / window);
  const int64_t keep = std::max<int64_t>(limit, 4 * per_period + options_.residual_windows + 1);
  const int64_t now_s = NowMs() / 1000;
  const int64_t current = now_s / window * window;  // the open window
  HEARTH_ASSIGN_OR_RETURN(std::vector<store::LoadWindow> rows, store_->List(model, current - keep * window, keep));
  LoadHistory out;
  std::vector<scheduler::WindowLoad> series;
  if (!rows.empty()) {
    size_t next = 0;
    for (int64_t start = rows.front().start_s; start < current; start += window) {
      store::LoadWindow w{model, start, window, 0, 0, 0};
      if (next < rows.size() && rows[next].start_s == start) w = rows[next++];
      series.push_back({w.avg, w.peak});
      out.windows.push_back(w);
    }
  }
  out.forecast = scheduler::PredictNext(series, options_);
  if (static_cast<int64_t>(out.windows.size()) > limit) {
    out.windows.erase(out.windows.begin(), out.windows.end() - limit);
  }
  return out;
}

}  // namespace hearth::daemon
