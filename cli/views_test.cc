#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "cli/sse.h"
#include "cli/views.h"

namespace hearth::cli {
namespace {

TEST(SseParserTest, EventsSplitAnywhere) {
  const std::string stream =
      "id: 1\ndata: {\"a\":1}\n\n: keep-alive\n\nid: 2\r\ndata: x\r\ndata: y\r\n\r\ndata: [DONE]\n\n";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    SseParser p;
    std::vector<SseEvent> events;
    p.Feed(stream.data(), cut, &events);
    p.Feed(stream.data() + cut, stream.size() - cut, &events);
    ASSERT_EQ(events.size(), 3u) << cut;
    EXPECT_EQ(events[0].id, "1");
    EXPECT_EQ(events[0].data, "{\"a\":1}");
    EXPECT_EQ(events[1].id, "2");
    EXPECT_EQ(events[1].data, "x\ny");
    EXPECT_EQ(events[2].id, "");
    EXPECT_EQ(events[2].data, "[DONE]");
  }
}

TEST(ViewsTest, ModelsAndRequestsTables) {
  auto models = RenderModels(R"({"object":"list","data":[{"name":"smol","path":"/m.gguf","context_length":8192,
      "state":"warm","worker":0,"pinned":true,"loads":2,"active_requests":1,"bytes":367001600,"swap_ins":1,
      "swap_outs":3,"staged_bytes":104857600,"predicted_avg":1.25,"predicted_peak":3,"observed_avg":1,
      "observed_peak":2,"score":0.8351,"planned_state":"warm","batch_size":16,"prewarm_actions":4,
      "prewarm_hits":3,"prewarm_waste":1},
      {"name":"big","path":"/b.gguf","context_length":4096,"state":"registered","worker":null,"pinned":false,
      "loads":0,"active_requests":0,"bytes":0,"swap_ins":0,"swap_outs":0,"staged_bytes":0,"predicted_avg":0,
      "predicted_peak":0.04,"score":0,"planned_state":null,"prewarm_hits":0,"prewarm_waste":0}]})");
  ASSERT_TRUE(models.ok());
  EXPECT_EQ(*models,
            "MODEL  STATE       PLAN  WORKER  PINNED  LOADS  SWAPS  REQUESTS  PRED   SCORE  PREWARM  MIB  STAGED_MIB  "
            "CONTEXT  PATH\n"
            "smol   warm        warm  0       yes     2      1/3    1         1.2/3  0.84   3/1      350  100         "
            "8192     /m.gguf\n"
            "big    registered  -     -       no      0      0/0    0         0/0    0.00   0/0      0    0           "
            "4096     /b.gguf\n");
  // An older hearthd: no forecast keys, dashes.
  auto older = RenderModels(R"({"object":"list","data":[{"name":"smol","state":"warm"}]})");
  ASSERT_TRUE(older.ok());
  EXPECT_NE(older->find("\nsmol   warm   -                            /                -     -      -        0    0\n"),
            std::string::npos)
      << *older;
  EXPECT_EQ(RenderModel(R"({"name":"smol","state":"registered","pinned":false,"last_error":"no room"})").value(),
            "smol: registered (no room)\n");
  auto reqs = RenderRequests(R"({"object":"list","data":[{"id":"17","model":"smol","state":"running",
      "prompt_tokens":31,"completion_tokens":4,"finish_reason":null,"endpoint":"chat.completions"}]})");
  ASSERT_TRUE(reqs.ok());
  EXPECT_NE(reqs->find("17  smol   running  31      4           -       chat.completions\n"), std::string::npos) << *reqs;
  EXPECT_FALSE(RenderModels("[]").ok());
  EXPECT_FALSE(RenderRequests(R"({"object":"list"})").ok());
}

TEST(ViewsTest, HistoryTableAndForecast) {
  const std::string json =
      R"({"model":"m","windows":[{"start":1765065600,"seconds":300,"avg":1.25,"peak":3,"arrivals":7}],)"
      R"("forecast":{"avg":2.5,"peak":4,"baseline_avg":2,"baseline_peak":3,"correction_avg":0.5,)"
      R"("correction_peak":1,"periodic":false}})";
  StatusOr<std::string> text = RenderHistory(json);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_NE(text->find("2025-12-07T00:00:00Z"), std::string::npos) << *text;
  EXPECT_NE(text->find("1.25"), std::string::npos) << *text;
  EXPECT_NE(text->find("next window: avg 2.50, peak 4.00 (baseline 2.00 from recent windows, correction 0.50)"),
            std::string::npos)
      << *text;
  EXPECT_EQ(text->find("forecast"), text->find("forecast MAE")) << "an older hearthd has no error object: " << *text;
  EXPECT_FALSE(RenderHistory(R"({"model":"m"})").ok());
}

TEST(ViewsTest, HistoryForecastErrorAgainstNaive) {
  const std::string head =
      R"({"model":"m","windows":[{"start":1765065600,"seconds":300,"avg":1.25,"peak":3,"arrivals":7}],)"
      R"("forecast":{"avg":2.5,"peak":4,"baseline_avg":2,"baseline_peak":3,"correction_avg":0.5,)"
      R"("correction_peak":1,"periodic":true},)";
  StatusOr<std::string> text =
      RenderHistory(head + R"("error":{"windows":7,"avg":0.125,"peak":0.5,"naive_avg":2,"naive_peak":2.25}})");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_NE(text->find("(baseline 2.00 from earlier periods, correction 0.50)\n"
                       "forecast MAE over 7 windows: avg 0.12, peak 0.50 (naive next = last: avg 2.00, peak 2.25)\n"),
            std::string::npos)
      << *text;
  text = RenderHistory(head + R"("error":{"windows":0,"avg":0,"peak":0,"naive_avg":0,"naive_peak":0}})");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_NE(text->find("forecast error: too few windows to compare\n"), std::string::npos) << *text;
}

TEST(ViewsTest, ModelProgress) {
  const std::string list = R"({"object":"list","data":[
      {"name":"a","state":"staging","progress":{"done":104857600,"total":419430400}},
      {"name":"b","state":"loading","progress":null},
      {"name":"c","state":"warm","progress":null}]})";
  EXPECT_EQ(RenderModelProgress(list, "a", 8), "a staging [##......] 25% 100/400 MiB");
  EXPECT_EQ(RenderModelProgress(list, "b", 8), "b loading") << "no bar until the worker reports";
  EXPECT_EQ(RenderModelProgress(list, "c", 8), "") << "not moving";
  EXPECT_EQ(RenderModelProgress(list, "ghost", 8), "");
  EXPECT_EQ(RenderModelProgress("not json", "a", 8), "");
  EXPECT_EQ(RenderModelProgress(R"({"data":[{"name":"a","state":"loading","progress":{"done":5,"total":4}}]})", "a", 8),
            "a loading")
      << "a bar past its end is not drawn";
}

TEST(ViewsTest, OneRequestDrainAndReload) {
  auto r = RenderRequest(R"({"id":"5","model":"smol","state":"finished","finish_reason":"stop","text":"Paris."})");
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->find("state: finished\n"), std::string::npos);
  EXPECT_NE(r->find("text:\nParis.\n"), std::string::npos);
  EXPECT_EQ(RenderDrain(R"({"draining":true,"queued":2,"running":3})").value(),
            "draining: new requests get 503; 2 queued, 3 running\n");
  EXPECT_EQ(RenderReload(R"({"applied":["log_level"],"restart_required":[]})").value(),
            "applied: log_level\nneed a restart: -\n");
  EXPECT_FALSE(RenderRequest("not json").ok());
}

TEST(ViewsTest, Preempt) {
  EXPECT_EQ(RenderPreempt(R"({"preempting":true,"source":"admin API","grace_seconds":30,"seconds_to_stop":27,)"
                          R"("seconds_to_deadline":29.94})")
                .value(),
            "preempting (notice from admin API): new requests get 503; running ones finish until the engine stops "
            "in 27.0 s, the deadline is in 29.9 s; hearthd then exits 0 and a restart resumes the rest\n");
  EXPECT_EQ(RenderPreempt(R"({"preempting":false})").value(), "not preempting\n");
  EXPECT_FALSE(RenderPreempt("[]").ok());
}

TEST(ViewsTest, MetricsSummaryWithQuantiles) {
  const std::string text = R"(# HELP hearth_requests_total requests
# TYPE hearth_requests_total counter
hearth_requests_total{model="smol",status="ok"} 9
hearth_requests_total{model="smol",status="rejected"} 1
hearth_generated_tokens_total 120
hearth_kv_blocks_used 3
hearth_kv_blocks_free 61
hearth_kv_blocks_total 64
hearth_time_to_first_token_seconds_bucket{model="smol",le="0.1"} 0
hearth_time_to_first_token_seconds_bucket{model="smol",le="0.2"} 5
hearth_time_to_first_token_seconds_bucket{model="smol",le="0.4"} 10
hearth_time_to_first_token_seconds_bucket{model="smol",le="+Inf"} 10
hearth_time_to_first_token_seconds_sum{model="smol"} 2
hearth_time_to_first_token_seconds_count{model="smol"} 10
hearth_prewarm_actions_total{model="smol",action="load",outcome="done"} 3
hearth_prewarm_actions_total{model="smol",action="swap_in",outcome="cancelled"} 1
hearth_prewarm_hits_total{model="smol"} 2
hearth_prewarm_hits_total{model="big"} 1
hearth_prewarm_waste_total{model="big"} 1
)";
  auto out = RenderMetrics(text);
  ASSERT_TRUE(out.ok());
  EXPECT_NE(out->find("prewarm: 4 actions, 3 hits, 1 wasted\n"), std::string::npos) << *out;
  EXPECT_NE(out->find("requests: ok 9 rejected 1\n"), std::string::npos) << *out;
  EXPECT_NE(out->find("kv blocks: 3 used, 61 free of 64\n"), std::string::npos) << *out;
  // Median: rank 5 is the top of the (0.1, 0.2] bucket; p90: rank 9 is 4/5 into (0.2, 0.4].
  EXPECT_NE(out->find("ttft        200 ms  360 ms"), std::string::npos) << *out;
  EXPECT_FALSE(RenderMetrics("# nothing\n").ok());
}

TEST(ViewsTest, StatusShowsDrainingQueuesAndKvBlocks) {
  const std::string status = R"({"version":"0.1.0","pid":7,"uptime_s":3,"draining":true,"listen":"127.0.0.1:8080",
      "workers":[],"models":[],"engine":{"waiting":2,"running":3,"kv_blocks_total":64,"kv_blocks_free":48,
      "tokens_generated":10}})";
  auto text = RenderStatus(status);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("draining: new requests get 503\n"), std::string::npos) << *text;
  EXPECT_NE(text->find("requests: 2 queued, 3 running\n"), std::string::npos) << *text;
  EXPECT_NE(text->find("kv blocks: 16 used of 64 (25%)\n"), std::string::npos) << *text;
  // Each model's queues and KV use, as the status gives them.
  auto per_model = RenderStatus(
      R"({"draining":false,"engine":{"waiting":1,"running":2,"kv_blocks_total":64,"kv_blocks_free":48},)"
      R"("models":[{"name":"smol","state":"warm","worker":1,"queued":1,"running":2,"kv_blocks_used":16,)"
      R"("kv_blocks_total":64,"path":"/m.gguf"}]})");
  ASSERT_TRUE(per_model.ok());
  EXPECT_NE(per_model->find("KV_BLOCKS"), std::string::npos) << *per_model;
  EXPECT_NE(per_model->find("16/64"), std::string::npos) << *per_model;
  auto accepting = RenderStatus(R"({"draining":false,"engine":{"waiting":0,"running":0,"kv_blocks_total":0,)"
                                R"("kv_blocks_free":0}})");
  ASSERT_TRUE(accepting.ok());
  EXPECT_NE(accepting->find("accepting requests\n"), std::string::npos) << *accepting;
  EXPECT_NE(accepting->find("kv blocks: 0 used of 0\n"), std::string::npos) << *accepting;
}

TEST(ViewsTest, WorkersJsonIsTheWorkersArray) {
  auto json = WorkersJson(R"({"pid":7,"workers":[{"id":0,"pid":8,"backend":"cpu","alive":true}],"models":[]})");
  ASSERT_TRUE(json.ok());
  rapidjson::Document d;
  d.Parse(json->c_str());
  ASSERT_TRUE(!d.HasParseError() && d.IsArray() && d.Size() == 1u) << *json;
  EXPECT_STREQ(d[0]["backend"].GetString(), "cpu");
  EXPECT_FALSE(WorkersJson(R"({"pid":7})").ok());
}

TEST(ViewsTest, RemovedModelIsText) {
  EXPECT_EQ(RenderRemoved(R"({"name":"smol2","deleted":true})").value(), "smol2: removed\n");
  EXPECT_FALSE(RenderRemoved(R"({"name":"smol2"})").ok());
  EXPECT_FALSE(RenderRemoved("not json").ok());
}

TEST(ViewsTest, MetricsJsonHasTheSummarizedFigures) {
  const std::string text = R"(hearth_requests_total{model="a",status="ok"} 9
hearth_requests_total{model="b",status="ok"} 1
hearth_generated_tokens_total{model="a"} 120
hearth_kv_blocks_used 3
hearth_kv_blocks_total 64
hearth_queued_requests{model="a"} 2
hearth_prewarm_hits_total{model="a"} 4
hearth_prewarm_waste_total{model="b"} 2
hearth_time_to_first_token_seconds_bucket{model="a",le="0.1"} 0
hearth_time_to_first_token_seconds_bucket{model="a",le="0.2"} 5
hearth_time_to_first_token_seconds_bucket{model="a",le="0.4"} 10
hearth_time_to_first_token_seconds_bucket{model="a",le="+Inf"} 10
)";
  auto json = MetricsJson(text);
  ASSERT_TRUE(json.ok());
  rapidjson::Document d;
  d.Parse(json->c_str());
  ASSERT_TRUE(!d.HasParseError() && d.IsObject()) << *json;
  EXPECT_EQ(d["hearth_requests_total"]["ok"].GetInt(), 10) << "summed over models";
  EXPECT_EQ(d["hearth_generated_tokens_total"].GetInt(), 120);
  EXPECT_EQ(d["hearth_queued_requests"].GetInt(), 2);
  EXPECT_EQ(d["hearth_kv_blocks_used"].GetInt(), 3);
  EXPECT_EQ(d["hearth_kv_blocks_total"].GetInt(), 64);
  EXPECT_EQ(d["hearth_prewarm_actions_total"].GetInt(), 0);
  EXPECT_EQ(d["hearth_prewarm_hits_total"].GetInt(), 4);
  EXPECT_EQ(d["hearth_prewarm_waste_total"].GetInt(), 2);
  const rapidjson::Value& ttft = d["hearth_time_to_first_token_seconds"];
  EXPECT_DOUBLE_EQ(ttft["p50"].GetDouble(), 0.2);
  EXPECT_NEAR(ttft["p90"].GetDouble(), 0.36, 1e-9);
  EXPECT_EQ(ttft["count"].GetInt(), 10);
  EXPECT_TRUE(d["hearth_request_duration_seconds"]["p50"].IsNull()) << "no observations";
  EXPECT_EQ(d["hearth_request_duration_seconds"]["count"].GetInt(), 0);
  EXPECT_FALSE(MetricsJson("# nothing\n").ok());
}

}  // namespace
}  // namespace hearth::cli
