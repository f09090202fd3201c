#include "daemon/models/prewarmer.h"

#include <algorithm>

#include "common/log.h"
#include "scheduler/prewarm.h"

namespace hearth::daemon {

Prewarmer::Prewarmer(ModelRegistry* registry, LoadRecorder* load, std::function<EngineStats()> stats,
                     PrewarmerOptions options)
    : registry_(registry), load_(load), stats_(std::move(stats)), options_(options) {}

Prewarmer::~Prewarmer() { Stop(); }

void Prewarmer::Start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      lock.unlock();
      RunOnce();
      lock.lock();
      cv_.wait_for(lock, options_.interval, [this] { return stopping_; });
    }
  });
}

void Prewarmer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<ModelForecast> Prewarmer::Forecasts() {
  const std::vector<PlacementInput> inputs = registry_->PlacementInputs();
  const int64_t window_s = load_->options().window_seconds;
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const int64_t open = now_s / window_s * window_s;
  const bool window_closed = open != forecast_window_;
  forecast_window_ = open;
  if (stats_) {
    for (const auto& [name, m] : stats_().models) {
      int32_t& most = most_running_[name];
      most = std::max<int32_t>(most, static_cast<int32_t>(std::min<int64_t>(m.num_running, INT32_MAX)));
    }
  }
  std::vector<ModelForecast> out;
  for (const PlacementInput& in : inputs) {
    auto cached = forecasts_.find(in.name);
    ModelForecast f;
    if (cached != forecasts_.end() && !window_closed) {
      f = cached->second;  // the history has not changed: only the score's inputs may have
    } else {
      // Every window the forecaster reads (periods back), for the arrivals' forecast too.
      const scheduler::ForecastOptions& o = load_->options();
      const int64_t reach = 4 * std::max<int64_t>(1, o.period_seconds / o.window_seconds) + o.residual_windows + 1;
      StatusOr<LoadHistory> h = load_->HistoryOf(in.name, reach);
      if (!h.ok()) {
        LogWarn("no load history for the forecast").Kv("model", in.name).Kv("error", h.status().ToString());
        continue;
      }
      f.name = in.name;
      f.predicted_avg = h->forecast.predicted.avg;
      f.predicted_peak = h->forecast.predicted.peak;
      // Arrivals per window, forecast the same way (baseline plus correction).
      std::vector<scheduler::WindowLoad> arrivals;
      for (const store::LoadWindow& w : h->windows) {
        arrivals.push_back({static_cast<double>(w.arrivals), static_cast<double>(w.arrivals)});
      }
      f.predicted_arrivals = scheduler::PredictNext(arrivals, load_->options()).predicted.avg;
      if (!h->windows.empty() && h->windows.back().start_s == open - window_s) {
        f.observed_avg = h->windows.back().avg;
        f.observed_peak = h->windows.back().peak;
      }
    }
    f.batch_size = options_.batch_size > 0 ? options_.batch_size : std::max<int32_t>(1, most_running_[in.name]);
    scheduler::ModelDemand d;
    d.name = in.name;
    d.predicted_avg = f.predicted_avg;
    d.predicted_peak = f.predicted_peak;
    d.batch_size = f.batch_size;
    // The cold start from the file, wherever the model is now: a score that fell when the
    // model was staged and rose when it was dropped would move it back and forth between the
    // tiers (bench/warm saw that). The plan decides the tier; the score only ranks.
    d.bytes = in.file_bytes;
    d.load_bytes_per_s = in.load_bytes_per_s;
    d.swap_in_bytes_per_s = in.swap_in_bytes_per_s;
    d.staged = false;
    d.predicted_arrivals = f.predicted_arrivals;
    f.score = scheduler::ModelScore(d);
    forecasts_[in.name] = f;
    out.push_back(f);
  }
  return out;
}

void Prewarmer::RunOnce() {
  std::lock_guard<std::mutex> pass(pass_mu_);
  registry_->SetForecasts(Forecasts());
  if (!options_.run_plans) return;
  for (int i = 0; i < options_.max_actions_per_pass; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    if (!registry_->PrewarmStep()) return;
  }
}

}  // namespace hearth::daemon
