#include "sim/scenario.h"

#include <gtest/gtest.h>

namespace hearth::sim {
namespace {

constexpr char kScenario[] = R"({
  "seed": 7,
  "nodes": [{"name": "od", "count": 2, "gpus": 8, "gpu_memory_bytes": 80e9, "price_per_hour": 98.3},
            {"name": "sp", "count": 3, "gpus": 8, "gpu_memory_bytes": 80e9, "instance": "spot",
             "price_per_hour": 30}],
  "models": [{"name": "llama", "count": 3, "weight_bytes": 16e9, "kv_bytes_per_token": 131072,
              "kv_cache_bytes": 8e9}],
  "arrivals": {"traces": ["/tmp/x.csv"], "duration_s": 3600, "rate": 50},
  "spot": {"trace": "/tmp/s.csv", "compression": 2},
  "time": {"kind": "roofline", "memory_efficiency": 0.7, "load": {"bytes_per_s": 2e9}},
  "policy": {"placement": "lru", "preemption": "restart", "slo_ttft_ms": 500},
  "scheduler": {"token_budget": 1024}
})";

TEST(ScenarioTest, ParsesEverySection) {
  auto s = ParseScenario(kScenario);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->seed, 7u);
  ASSERT_EQ(s->nodes.size(), 2u);
  EXPECT_EQ(s->nodes[1].count, 3);
  EXPECT_TRUE(s->nodes[1].spot);
  EXPECT_FALSE(s->nodes[0].spot);
  EXPECT_EQ(s->nodes[0].gpu_memory_bytes, 80'000'000'000u);
  ASSERT_EQ(s->models.size(), 3u);
  EXPECT_EQ(s->models[2].name, "llama-2");
  EXPECT_DOUBLE_EQ(s->models[0].params, 8e9);  // weight bytes / 2 by default
  EXPECT_TRUE(s->time.roofline);
  EXPECT_DOUBLE_EQ(s->time.roofline_params.memory_efficiency, 0.7);
  EXPECT_DOUBLE_EQ(s->time.roofline_params.hbm_bytes_per_s, 3.35e12);
  EXPECT_DOUBLE_EQ(s->time.load.bytes_per_s, 2e9);
  EXPECT_EQ(s->policy.placement, PlacementPolicy::kLru);
  EXPECT_EQ(s->policy.preemption, PreemptionPolicy::kRestart);
  EXPECT_DOUBLE_EQ(s->policy.slo_ttft_ms, 500);
  EXPECT_EQ(s->scheduler.token_budget, 1024);
  EXPECT_DOUBLE_EQ(s->spot.compression, 2);
}

TEST(ScenarioTest, RefusesBadInput) {
  const char* bad[] = {
      "[]",
      "{}",
      R"({"nodes": [], "models": [{"weight_bytes": 1}], "arrivals": {"traces": ["a"]}, "time": {"profile": [[1, 1]]}})",
      R"({"nodes": [{"gpu_memory_bytes": 1}], "models": [{"weight_bytes": -1}], "arrivals": {"traces": ["a"]},
          "time": {"profile": [[1, 1]]}})",
      R"({"nodes": [{"gpu_memory_bytes": 1}], "models": [{"weight_bytes": 1}], "arrivals": {"traces": []},
          "time": {"profile": [[1, 1]]}})",
      R"({"nodes": [{"gpu_memory_bytes": 1}], "models": [{"weight_bytes": 1}], "arrivals": {"traces": ["a"]},
          "time": {"profile": [[2, 1], [1, 1]]}})",
      R"({"nodes": [{"gpu_memory_bytes": 1, "instance": "reserved"}], "models": [{"weight_bytes": 1}],
          "arrivals": {"traces": ["a"]}, "time": {"profile": [[1, 1]]}})",
      R"({"nodes": [{"gpu_memory_bytes": 1}], "models": [{"weight_bytes": 1}], "arrivals": {"traces": ["a"]},
          "time": {"profile": [[1, 1]]}, "policy": {"placement": "random"}})",
      R"({"nodes": [{"gpu_memory_bytes": 1, "count": 1.5}], "models": [{"weight_bytes": 1}],
          "arrivals": {"traces": ["a"]}, "time": {"profile": [[1, 1]]}})",
      R"({"nodes": [{"gpu_memory_bytes": 1}], "models": [{"name": "a", "weight_bytes": 1}, {"name": "a", "weight_bytes": 1}],
          "arrivals": {"traces": ["a"]}, "time": {"profile": [[1, 1]]}})",
  };
  for (const char* text : bad) EXPECT_FALSE(ParseScenario(text).ok()) << text;
  const auto missing = ParseScenario(R"({"nodes": [{"count": 1}], "models": [{"weight_bytes": 1}],
      "arrivals": {"traces": ["a"]}, "time": {"profile": [[1, 1]]}})");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nodes[0].gpu_memory_bytes"), std::string::npos);
}

}  // namespace
}  // namespace hearth::sim
