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

TEST(ServerMetricsTest, FreshDaemonRendersEveryUnlabelledFamilyAtZero) {
  ServerMetrics m;
  const std::string text = m.Render({});
  for (const char* line :
       {"hearth_generated_tokens_total 0", "hearth_queued_requests 0", "hearth_queued_prompt_tokens 0",
        "hearth_waiting_sequences 0", "hearth_running_sequences 0", "hearth_kv_blocks_used 0",
        "hearth_kv_blocks_free 0", "hearth_prefix_cache_hit_ratio 0", "hearth_worker_restarts_total 0",
        "hearth_workers_up 0", "hearth_models_loaded 0", "# TYPE hearth_requests_total counter",
        "# TYPE hearth_time_to_first_token_seconds histogram"}) {
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
  live.engine.num_waiting = 3;
  live.engine.num_running = 2;
  live.engine.kv_blocks_total = 100;
  live.engine.kv_blocks_free = 60;
  live.engine.tokens_generated = 777;
  live.engine.prefix_cache_queried_blocks = 8;
  live.engine.prefix_cache_hit_blocks = 2;
  live.queue = {4, 900};
  live.workers_up = 1;
  live.models_loaded = 1;
  live.tokens_per_second = 12.5;
  const std::string text = m.Render(live);
  for (const char* line :
       {"hearth_waiting_sequences 3", "hearth_running_sequences 2", "hearth_kv_blocks_used 40",
        "hearth_kv_blocks_free 60", "hearth_kv_blocks_total 100", "hearth_generated_tokens_total 777",
        "hearth_prefix_cache_queried_blocks_total 8", "hearth_prefix_cache_hit_blocks_total 2",
        "hearth_prefix_cache_hit_ratio 0.25", "hearth_queued_requests 4", "hearth_queued_prompt_tokens 900",
        "hearth_workers_up 1", "hearth_models_loaded 1", "hearth_generation_tokens_per_second 12.5"}) {
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
  const std::string text = m.Render({});
  for (const char* line : {"hearth_store_commit_seconds_count 2", "hearth_store_commit_seconds_sum 0.502",
                           "hearth_store_commit_seconds_bucket{le=\"0.0025\"} 1",
                           "hearth_store_commit_seconds_bucket{le=\"1\"} 2", "hearth_recovered_requests_total 3",
                           "hearth_recovered_prefill_tokens_total 120"}) {
    EXPECT_TRUE(HasLine(text, line)) << line << "\n" << text;
  }
}

}  // namespace
}  // namespace hearth::daemon
