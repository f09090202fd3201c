#include "daemon/ops/server_metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace hearth::daemon {
namespace {

bool HasLine(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

FinishEvent Finished(const std::string& reason, RequestLatency latency = {}) {
  FinishEvent e;
  EXPECT_TRUE(ParseFinishReason(reason, &e.finish_reason)) << reason;
  e.latency = latency;
  return e;
}

TEST(ServerMetricsTest, StatusOfAFinish) {
  EXPECT_STREQ(RequestStatus(Finished("stop")), "ok");
  EXPECT_STREQ(RequestStatus(Finished("length")), "ok");
  EXPECT_STREQ(RequestStatus(Finished("cancelled")), "cancelled");
  EXPECT_STREQ(RequestStatus(Finished("error")), "error");
}

// Per-model families are labelled `model`; a registered model has every one of them, at 0
// before it is loaded.
TEST(ServerMetricsTest, FreshDaemonRendersEveryUnlabelledFamilyAtZero) {
  ServerMetrics m;
  LiveState live;
  live.models = {"smol"};
  const std::string text = m.Render(live);
  for (const char* line :
       {"hearth_generated_tokens_total{model=\"smol\"} 0", "hearth_queued_requests 0", "hearth_queued_prompt_tokens 0",
        "hearth_waiting_sequences{model=\"smol\"} 0", "hearth_running_sequences{model=\"smol\"} 0",
        "hearth_kv_blocks_used{model=\"smol\"} 0", "hearth_kv_blocks_free{model=\"smol\"} 0",
        "hearth_prefix_cache_hit_ratio{model=\"smol\"} 0", "hearth_kv_cache_usage_ratio{model=\"smol\"} 0",
        "hearth_num_requests_waiting{model=\"smol\"} 0", "hearth_num_requests_running{model=\"smol\"} 0",
        "hearth_worker_restarts_total 0", "hearth_workers_up 0", "hearth_models_loaded 0",
        "# TYPE hearth_requests_total counter", "# TYPE hearth_time_to_first_token_seconds histogram"}) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }
}

TEST(ServerMetricsTest, RequestsAndLatenciesByModel) {
  ServerMetrics m;
  m.RequestSubmitted("smol", 12);
  m.RequestSubmitted("smol", 3);
  m.RequestFinished("smol", Finished("stop", {0.002, 0.3, 0.02, 1.5}));
  m.RequestFinished("smol", Finished("cancelled", {0.001, -1, -1, 0.2}));
  m.RequestRejected("smol", "queued_requests");
  const std::string text = m.Render({});
  for (const char* line : {
           "hearth_requests_total{model=\"smol\",status=\"cancelled\"} 1",
           "hearth_requests_total{model=\"smol\",status=\"ok\"} 1",
           "hearth_requests_total{model=\"smol\",status=\"rejected\"} 1",
           "hearth_requests_rejected_total{model=\"smol\",reason=\"queued_requests\"} 1",
           "hearth_prompt_tokens_total{model=\"smol\"} 15",
           "hearth_request_queue_seconds_count{model=\"smol\"} 2",
           "hearth_request_queue_seconds_bucket{model=\"smol\",le=\"0.001\"} 1",
           "hearth_request_queue_seconds_bucket{model=\"smol\",le=\"0.0025\"} 2",
           // Unknown latencies (-1) are not observed.
           "hearth_time_to_first_token_seconds_count{model=\"smol\"} 1",
           "hearth_time_to_first_token_seconds_sum{model=\"smol\"} 0.3",
           "hearth_time_per_output_token_seconds_count{model=\"smol\"} 1",
           "hearth_request_duration_seconds_count{model=\"smol\"} 2",
           "hearth_request_duration_seconds_bucket{model=\"smol\",le=\"+Inf\"} 2",
       }) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }
}

TEST(ServerMetricsTest, GaugesComeFromTheLiveState) {
  ServerMetrics m;
  LiveState live;
  ModelEngineStats& smol = live.engine.models["smol"];
  smol.num_waiting = 3;
  smol.num_waiting_for_model = 1;
  smol.num_running = 2;
  smol.kv_blocks_total = 100;
  smol.kv_blocks_free = 60;
  smol.tokens_generated = 777;
  smol.prefix_cache_queried_blocks = 8;
  smol.prefix_cache_hit_blocks = 2;
  live.engine.models["tiny"].tokens_generated = 5;
  live.queue = {4, 900};
  live.workers_up = 1;
  live.models_loaded = 1;
  live.tokens_per_second = 12.5;
  live.process = ProcessSample{1.5, 4096, 8192, 1700000000, 12, 1024};
  const std::string text = m.Render(live);
  for (const char* line : {"hearth_waiting_sequences{model=\"smol\"} 3",
                           "hearth_running_sequences{model=\"smol\"} 2",
                           "hearth_kv_blocks_used{model=\"smol\"} 40",
                           "hearth_kv_blocks_free{model=\"smol\"} 60",
                           "hearth_kv_blocks_capacity{model=\"smol\"} 100",
                           "hearth_generated_tokens_total{model=\"smol\"} 777",
                           "hearth_prefix_cache_queried_blocks_total{model=\"smol\"} 8",
                           "hearth_prefix_cache_hit_blocks_total{model=\"smol\"} 2",
                           "hearth_prefix_cache_hit_ratio{model=\"smol\"} 0.25",
                           "hearth_queued_requests 4",
                           "hearth_queued_prompt_tokens 900",
                           "hearth_workers_up 1",
                           "hearth_models_loaded 1",
                           "hearth_generation_tokens_per_second 12.5",
                           "hearth_num_requests_waiting{model=\"smol\"} 4",
                           "hearth_num_requests_running{model=\"smol\"} 2",
                           "hearth_kv_cache_usage_ratio{model=\"smol\"} 0.4",
                           "hearth_generated_tokens_total{model=\"tiny\"} 5",
                           "hearth_kv_cache_usage_ratio{model=\"tiny\"} 0",
                           "process_cpu_seconds_total 1.5",
                           "process_resident_memory_bytes 4096",
                           "process_virtual_memory_bytes 8192",
                           "process_start_time_seconds 1700000000",
                           "process_open_fds 12",
                           "process_max_fds 1024"}) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }
}

// A model unloaded and loaded again starts its prefix-cache counts from 0; the counters go on
// from where they were. A model gone from the engine keeps its counters; its gauges go to 0.
TEST(ServerMetricsTest, PerModelCountersNeverGoDownAndGoneModelsGaugesGoToZero) {
  ServerMetrics m;
  LiveState live;
  ModelEngineStats& smol = live.engine.models["smol"];
  smol.kv_blocks_total = 10;
  smol.kv_blocks_free = 4;
  smol.num_running = 1;
  smol.tokens_generated = 50;
  smol.prefix_cache_queried_blocks = 10;
  smol.prefix_cache_hit_blocks = 4;
  m.Render(live);
  smol.prefix_cache_queried_blocks = 3;  // reloaded
  smol.prefix_cache_hit_blocks = 1;
  std::string text = m.Render(live);
  EXPECT_TRUE(HasLine(text, "hearth_prefix_cache_queried_blocks_total{model=\"smol\"} 13")) << text;
  EXPECT_TRUE(HasLine(text, "hearth_prefix_cache_hit_blocks_total{model=\"smol\"} 5")) << text;
  live.engine.models.clear();
  text = m.Render(live);
  for (const char* line :
       {"hearth_generated_tokens_total{model=\"smol\"} 50",
        "hearth_prefix_cache_queried_blocks_total{model=\"smol\"} 13", "hearth_kv_blocks_used{model=\"smol\"} 0",
        "hearth_kv_blocks_capacity{model=\"smol\"} 0", "hearth_running_sequences{model=\"smol\"} 0",
        "hearth_num_requests_running{model=\"smol\"} 0"}) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }
}

TEST(ServerMetricsTest, BuildInfoAndModelStateHelp) {
  ServerMetrics m;
  m.SetBuildInfo("1.2.3");
  m.SetModelState("smol", "staged");
  const std::string text = m.Render({});
  EXPECT_TRUE(HasLine(text, "hearth_build_info{version=\"1.2.3\"} 1")) << text;
  EXPECT_TRUE(HasLine(text, "hearth_model_state{model=\"smol\",state=\"staged\"} 1")) << text;
  // The help names every state the gauge is emitted with.
  const size_t help = text.find("# HELP hearth_model_state ");
  ASSERT_NE(help, std::string::npos);
  const std::string help_line = text.substr(help, text.find('\n', help) - help);
  for (const char* state : {"registered", "staging", "staged", "loading", "warm", "unloading"}) {
    EXPECT_TRUE(HasLine(text, std::string("hearth_model_state{model=\"smol\",state=\"") + state + "\"} " +
                                  (std::string(state) == "staged" ? "1" : "0")))
        << state;
    EXPECT_NE(help_line.find(state), std::string::npos) << help_line;
  }
}

// Placement by forecast: a registered model has every prewarm and forecast series from the first
// scrape, at 0; the forecast's gauges follow the last SetModelForecast, exactly one planned state
// is 1, and none under policy lru (planned state "").
TEST(ServerMetricsTest, ForecastGaugesAndPlannedState) {
  ServerMetrics m;
  LiveState live;
  live.models = {"smol"};
  std::string text = m.Render(live);
  for (const char* line :
       {"hearth_prewarm_hits_total{model=\"smol\"} 0", "hearth_prewarm_waste_total{model=\"smol\"} 0",
        "hearth_model_predicted_load{model=\"smol\",stat=\"avg\"} 0",
        "hearth_model_predicted_load{model=\"smol\",stat=\"peak\"} 0",
        "hearth_model_observed_load{model=\"smol\",stat=\"avg\"} 0",
        "hearth_model_observed_load{model=\"smol\",stat=\"peak\"} 0", "hearth_model_score{model=\"smol\"} 0",
        "hearth_model_planned_state{model=\"smol\",state=\"warm\"} 0",
        "hearth_model_planned_state{model=\"smol\",state=\"staged\"} 0",
        "hearth_model_planned_state{model=\"smol\",state=\"disk\"} 0", "# TYPE hearth_prewarm_actions_total counter",
        "# TYPE hearth_prewarm_hits_total counter", "# TYPE hearth_prewarm_waste_total counter",
        "# TYPE hearth_model_predicted_load gauge", "# TYPE hearth_model_observed_load gauge",
        "# TYPE hearth_model_score gauge", "# TYPE hearth_model_planned_state gauge"}) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }

  m.SetModelForecast("smol", 1.25, 3, 0.5, 2, 0.84, "staged");
  text = m.Render(live);  // a scrape keeps what the forecast set
  for (const char* line :
       {"hearth_model_predicted_load{model=\"smol\",stat=\"avg\"} 1.25",
        "hearth_model_predicted_load{model=\"smol\",stat=\"peak\"} 3",
        "hearth_model_observed_load{model=\"smol\",stat=\"avg\"} 0.5",
        "hearth_model_observed_load{model=\"smol\",stat=\"peak\"} 2", "hearth_model_score{model=\"smol\"} 0.84",
        "hearth_model_planned_state{model=\"smol\",state=\"warm\"} 0",
        "hearth_model_planned_state{model=\"smol\",state=\"staged\"} 1",
        "hearth_model_planned_state{model=\"smol\",state=\"disk\"} 0"}) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }
  // The help names every planned state the gauge is emitted with.
  const size_t help = text.find("# HELP hearth_model_planned_state ");
  ASSERT_NE(help, std::string::npos);
  const std::string help_line = text.substr(help, text.find('\n', help) - help);
  for (const char* state : {"warm", "staged", "disk"}) EXPECT_NE(help_line.find(state), std::string::npos);

  m.SetModelForecast("smol", 2, 4, 1, 1, 0.5, "warm");
  text = m.Render(live);
  EXPECT_TRUE(HasLine(text, "hearth_model_planned_state{model=\"smol\",state=\"warm\"} 1")) << text;
  EXPECT_TRUE(HasLine(text, "hearth_model_planned_state{model=\"smol\",state=\"staged\"} 0")) << text;

  m.SetModelForecast("smol", 2, 4, 1, 1, 0.5, "");  // policy lru: no plan
  text = m.Render(live);
  for (const char* state : {"warm", "staged", "disk"}) {
    EXPECT_TRUE(HasLine(text, std::string("hearth_model_planned_state{model=\"smol\",state=\"") + state + "\"} 0"))
        << state << "\n"
        << text;
  }
  EXPECT_TRUE(HasLine(text, "hearth_model_predicted_load{model=\"smol\",stat=\"peak\"} 4")) << text;
}

TEST(ServerMetricsTest, PrewarmActionsHitsAndWasteByModel) {
  ServerMetrics m;
  m.PrewarmAction("smol", "load", "done");
  m.PrewarmAction("smol", "load", "done");
  m.PrewarmAction("smol", "swap_in", "cancelled");
  m.PrewarmAction("big", "stage", "failed");
  m.PrewarmHit("smol");
  m.PrewarmHit("smol");
  m.PrewarmHit("smol");
  m.PrewarmWasted("big");
  const std::string text = m.Render({});
  for (const char* line :
       {"hearth_prewarm_actions_total{model=\"smol\",action=\"load\",outcome=\"done\"} 2",
        "hearth_prewarm_actions_total{model=\"smol\",action=\"swap_in\",outcome=\"cancelled\"} 1",
        "hearth_prewarm_actions_total{model=\"big\",action=\"stage\",outcome=\"failed\"} 1",
        "hearth_prewarm_hits_total{model=\"smol\"} 3", "hearth_prewarm_waste_total{model=\"big\"} 1"}) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }
  EXPECT_EQ(text.find("hearth_prewarm_hits_total{model=\"big\"}"), std::string::npos) << "not registered: no series";
  EXPECT_EQ(text.find("hearth_prewarm_actions_total{model=\"smol\",action=\"load\",outcome=\"failed\"}"),
            std::string::npos);
}

// A model gone from the live state keeps its prewarm counters; its forecast gauges go to 0.
TEST(ServerMetricsTest, GoneModelsForecastGaugesGoToZero) {
  ServerMetrics m;
  LiveState live;
  live.models = {"smol", "tiny"};
  m.SetModelForecast("smol", 1.5, 2, 1, 3, 0.7, "warm");
  m.SetModelForecast("tiny", 0.25, 1, 0, 0, 0.1, "disk");
  m.PrewarmHit("smol");
  m.Render(live);
  live.models = {"tiny"};
  const std::string text = m.Render(live);
  for (const char* line :
       {"hearth_model_predicted_load{model=\"smol\",stat=\"avg\"} 0",
        "hearth_model_observed_load{model=\"smol\",stat=\"peak\"} 0", "hearth_model_score{model=\"smol\"} 0",
        "hearth_model_planned_state{model=\"smol\",state=\"warm\"} 0", "hearth_prewarm_hits_total{model=\"smol\"} 1",
        "hearth_model_predicted_load{model=\"tiny\",stat=\"avg\"} 0.25", "hearth_model_score{model=\"tiny\"} 0.1",
        "hearth_model_planned_state{model=\"tiny\",state=\"disk\"} 1"}) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }
}

TEST(ServerMetricsTest, ModelLoadsAndWorkerRestarts) {
  ServerMetrics m;
  m.ModelLoaded("smol", 1.75, true);
  m.ModelLoaded("ghost", 0.01, false);
  m.WorkerRestarted();
  const std::string text = m.Render({});
  for (const char* line : {"hearth_model_loads_total{model=\"ghost\",status=\"error\"} 1",
                           "hearth_model_loads_total{model=\"smol\",status=\"ok\"} 1",
                           "hearth_model_load_seconds_sum{model=\"smol\"} 1.75",
                           "hearth_model_load_seconds_count{model=\"smol\"} 1", "hearth_worker_restarts_total 1"}) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }
  EXPECT_EQ(text.find("hearth_model_load_seconds_count{model=\"ghost\"}"), std::string::npos);
}

TEST(ServerMetricsTest, StoreCommitsAndRecovery) {
  ServerMetrics m;
  EXPECT_TRUE(HasLine(m.Render({}), "hearth_recovered_prefill_tokens_total 0"));
  m.StoreCommitted(0.002);
  m.StoreCommitted(0.5);
  m.Recovered(3, 120);
  EXPECT_TRUE(HasLine(m.Render({}), "hearth_store_commit_errors_total 0"));
  m.StoreCommitFailed();
  const std::string text = m.Render({});
  EXPECT_TRUE(HasLine(text, "hearth_store_commit_errors_total 1"));
  for (const char* line : {"hearth_store_commit_seconds_count 2", "hearth_store_commit_seconds_sum 0.502",
                           "hearth_store_commit_seconds_bucket{le=\"0.0025\"} 1",
                           "hearth_store_commit_seconds_bucket{le=\"1\"} 2", "hearth_recovered_requests_total 3",
                           "hearth_recovered_prefill_tokens_total 120"}) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }
}

// docs/cluster.md, "What it costs": the node's cost is its price times its hours, split over
// the models by the tokens each generated between scrapes.
TEST(ServerMetricsTest, NodeCostSplitOverTheModelsByTokens) {
  ServerMetrics m;
  LiveState live;
  live.models = {"a", "b"};
  live.price_per_hour = 2.0;
  live.uptime_seconds = 1800;
  live.engine.models["a"].tokens_generated = 300;
  live.engine.models["b"].tokens_generated = 100;
  std::string text = m.Render(live);
  for (const char* line : {"hearth_node_price_dollars_per_hour 2", "hearth_node_uptime_seconds_total 1800",
                           "hearth_node_cost_dollars_total 1", "hearth_model_cost_dollars_total{model=\"a\"} 0.75",
                           "hearth_model_cost_dollars_total{model=\"b\"} 0.25",
                           "hearth_cost_per_million_tokens_dollars 2500"}) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }
  // The next half hour only b works: it pays all of it; a keeps what it had.
  live.uptime_seconds = 3600;
  live.engine.models["b"].tokens_generated = 1700;
  text = m.Render(live);
  for (const char* line : {"hearth_node_uptime_seconds_total 3600", "hearth_node_cost_dollars_total 2",
                           "hearth_model_cost_dollars_total{model=\"a\"} 0.75",
                           "hearth_model_cost_dollars_total{model=\"b\"} 1.25",
                           "hearth_cost_per_million_tokens_dollars 1000"}) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }
}

TEST(ServerMetricsTest, ANodeWithoutAPriceCostsNothing) {
  ServerMetrics m;
  LiveState live;
  live.models = {"smol"};
  live.uptime_seconds = 7200;
  live.engine.models["smol"].tokens_generated = 50;
  const std::string text = m.Render(live);
  for (const char* line : {"hearth_node_price_dollars_per_hour 0", "hearth_node_uptime_seconds_total 7200",
                           "hearth_node_cost_dollars_total 0", "hearth_model_cost_dollars_total{model=\"smol\"} 0",
                           "hearth_cost_per_million_tokens_dollars 0", "# TYPE hearth_node_cost_dollars_total counter",
                           "# TYPE hearth_cost_per_million_tokens_dollars gauge"}) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }
}

TEST(ServerMetricsTest, BeforeAnyTokenNoModelHasACost) {
  ServerMetrics m;
  LiveState live;
  live.models = {"smol"};
  live.price_per_hour = 1.0;
  live.uptime_seconds = 360;
  const std::string text = m.Render(live);
  for (const char* line : {"hearth_node_cost_dollars_total 0.1", "hearth_model_cost_dollars_total{model=\"smol\"} 0",
                           "hearth_cost_per_million_tokens_dollars 0"}) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }
}

}  // namespace
}  // namespace hearth::daemon
