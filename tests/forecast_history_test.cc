// The load history and the forecast survive a restart (docs/models.md, "Forecast"): hearthd
// with two-second windows serves a few concurrent requests; the windows it closed are in
// GET /admin/v1/models/{name}/history, with the forecast over them and the forecaster's error;
// after a restart on the same data directory the same windows are there and the forecast still
// sees the load.
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "scheduler/forecast.h"
#include "tests/model_path.h"
#include "tests/test_process.h"

namespace hearth::testing {
namespace {

using namespace std::chrono_literals;

rapidjson::Document Json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  return d;
}

// start -> arrivals of every window with a row (windows with load).
std::map<int64_t, int64_t> Arrivals(const rapidjson::Document& history) {
  std::map<int64_t, int64_t> out;
  for (const auto& w : history["windows"].GetArray()) {
    if (w["arrivals"].GetInt64() > 0) out[w["start"].GetInt64()] = w["arrivals"].GetInt64();
  }
  return out;
}

// The forecast is the forecaster's over the windows the history returned (the load, then the
// quiet windows since: how many depends on timing, and the prediction may already be back to
// 0), and the load is in its baseline.
void ExpectForecastOf(const rapidjson::Document& h, const std::string& body) {
  std::vector<scheduler::WindowLoad> series;
  for (const auto& w : h["windows"].GetArray()) series.push_back({w["avg"].GetDouble(), w["peak"].GetDouble()});
  scheduler::ForecastOptions options;
  options.window_seconds = 2;
  options.period_seconds = 3600;
  const scheduler::Forecast expected = scheduler::PredictNext(series, options);
  EXPECT_NEAR(h["forecast"]["avg"].GetDouble(), expected.predicted.avg, 1e-9) << body;
  EXPECT_NEAR(h["forecast"]["baseline_avg"].GetDouble(), expected.baseline.avg, 1e-9) << body;
  EXPECT_NEAR(h["forecast"]["correction_avg"].GetDouble(), expected.correction.avg, 1e-9) << body;
  EXPECT_GT(h["forecast"]["baseline_avg"].GetDouble(), 0) << "the forecast does not see the load: " << body;
  // The forecaster's error over the same windows, against next = last.
  ASSERT_TRUE(h.HasMember("error") && h["error"].IsObject()) << body;
  const scheduler::ForecastError error = scheduler::Evaluate(series, options);
  EXPECT_GE(h["error"]["windows"].GetInt64(), 1) << body;
  EXPECT_EQ(h["error"]["windows"].GetInt64(), error.windows) << body;
  EXPECT_NEAR(h["error"]["avg"].GetDouble(), error.avg, 1e-9) << body;
  EXPECT_NEAR(h["error"]["naive_peak"].GetDouble(), error.naive_peak, 1e-9) << body;
}

TEST(ForecastHistoryTest, HistoryAndForecastSurviveARestart) {
  if (!DefaultModelPresent()) GTEST_SKIP() << "no model at " << DefaultModelPath();
  const std::string dir = TempDir();
  const int port = FreePort(), admin = FreePort();
  std::ofstream(dir + "/hearth.toml") << "[scheduler]\ntoken_budget = 128\n"
                                      << "[placement]\nwindow_seconds = 2\nperiod_seconds = 3600\n";
  std::map<int64_t, int64_t> before;
  {
    HearthdProcess daemon(dir, port, admin);
    ASSERT_TRUE(daemon.healthy()) << daemon.process().Log();
    std::vector<std::thread> clients;
    for (int i = 0; i < 4; ++i) {
      clients.emplace_back([port, i] {
        httplib::Client c("127.0.0.1", port);
        c.set_read_timeout(120, 0);
        c.Post("/v1/completions",
               R"({"model":"smollm2","prompt":"Tell me about the tides","max_tokens":24,"seed":)" + std::to_string(i) +
                   "}",
               "application/json");
      });
    }
    for (auto& t : clients) t.join();
    std::this_thread::sleep_for(4500ms);  // the last busy window closes and is written
    const HttpResult r = HttpGet(admin, "/admin/v1/models/smollm2/history?limit=1000");
    ASSERT_EQ(r.status, 200) << r.body;
    const rapidjson::Document h = Json(r.body);
    before = Arrivals(h);
    int64_t arrivals = 0;
    for (const auto& [start, n] : before) arrivals += n;
    EXPECT_EQ(arrivals, 4) << r.body;
    ExpectForecastOf(h, r.body);
    RunResult cli = RunCommand({BinaryPath("hearthctl"), "--url", "http://127.0.0.1:" + std::to_string(admin), "models",
                                "history", "smollm2"});
    EXPECT_EQ(cli.exit_code, 0) << cli.out;
    EXPECT_NE(cli.out.find("next window: avg"), std::string::npos) << cli.out;
    EXPECT_NE(cli.out.find("forecast MAE over "), std::string::npos) << cli.out;
    daemon.process().Signal(SIGTERM);
    ASSERT_TRUE(daemon.process().Wait(60000).has_value());
  }
  HearthdProcess again(dir, port, admin);
  ASSERT_TRUE(again.healthy()) << again.process().Log();
  const HttpResult r = HttpGet(admin, "/admin/v1/models/smollm2/history?limit=1000");
  ASSERT_EQ(r.status, 200) << r.body;
  const rapidjson::Document h = Json(r.body);
  EXPECT_EQ(Arrivals(h), before) << r.body;
  ExpectForecastOf(h, r.body);
  EXPECT_EQ(HttpGet(admin, "/admin/v1/models/nope/history").status, 404);
  again.process().Signal(SIGTERM);
  again.process().Wait(60000);
}

}  // namespace
}  // namespace hearth::testing
