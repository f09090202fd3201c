#include "sim/time_model.h"

#include <gtest/gtest.h>

namespace hearth::sim {
namespace {

TEST(TimeModelTest, ProfileInterpolatesBetweenPoints) {
  auto m = StepTimeModel::FromProfile({{1, 10}, {16, 100}, {512, 2800}});
  ASSERT_TRUE(m.ok());
  EXPECT_DOUBLE_EQ(m->StepMs({1, 0}), 10);
  EXPECT_DOUBLE_EQ(m->StepMs({16, 0}), 100);
  EXPECT_DOUBLE_EQ(m->StepMs({6, 0}), 10 + 90.0 * 5 / 15);
  EXPECT_DOUBLE_EQ(m->StepMs({264, 0}), 100 + 2700.0 * 248 / 496);
  EXPECT_DOUBLE_EQ(m->StepMs({1024, 0}), 2800 + 2700.0 * 512 / 496);  // the last segment, extended
  EXPECT_EQ(m->StepNanos({16, 0}), 100'000'000);
  EXPECT_DOUBLE_EQ(m->StepMs({0, 0}), 0);
}

TEST(TimeModelTest, SinglePointIsProportionalAbove) {
  auto m = StepTimeModel::FromProfile({{16, 160}});
  ASSERT_TRUE(m.ok());
  EXPECT_DOUBLE_EQ(m->StepMs({8, 0}), 160);
  EXPECT_DOUBLE_EQ(m->StepMs({32, 0}), 320);
}

TEST(TimeModelTest, ProfileRefusesBadPoints) {
  EXPECT_FALSE(StepTimeModel::FromProfile({}).ok());
  EXPECT_FALSE(StepTimeModel::FromProfile({{16, 1}, {16, 2}}).ok());
  EXPECT_FALSE(StepTimeModel::FromProfile({{16, 1}, {8, 2}}).ok());
  EXPECT_FALSE(StepTimeModel::FromProfile({{0, 1}}).ok());
  EXPECT_FALSE(StepTimeModel::FromProfile({{4, -1}}).ok());
}

TEST(TimeModelTest, RooflineDecodeIsBandwidthBound) {
  RooflineParams p;
  p.memory_efficiency = 1;
  p.compute_efficiency = 1;
  p.step_overhead_ms = 0;
  ModelShape s;
  s.weight_bytes = 3'350'000'000;  // 1 ms at 3.35 TB/s
  s.params = 7e9;
  s.kv_bytes_per_token = 0;
  auto m = StepTimeModel::FromRoofline(p, s);
  ASSERT_TRUE(m.ok());
  EXPECT_NEAR(m->StepMs({1, 0}), 1.0, 1e-9);
  // 989e12 / (2 x 7e9) tokens take 1 s of compute.
  EXPECT_NEAR(m->StepMs({70643, 0}), 70643 * 14e9 / 989e12 * 1e3, 1e-6);
}

TEST(TimeModelTest, RooflineCountsKvReadsAndEfficiency) {
  RooflineParams p;
  p.memory_efficiency = 0.5;
  p.step_overhead_ms = 0.25;
  ModelShape s;
  s.weight_bytes = 3'350'000'000;
  s.params = 1e9;
  s.kv_bytes_per_token = 1'000'000;
  auto m = StepTimeModel::FromRoofline(p, s);
  ASSERT_TRUE(m.ok());
  // (3.35e9 + 3.35e9) bytes at half of 3.35 TB/s: 4 ms, plus 0.25.
  EXPECT_NEAR(m->StepMs({1, 3350}), 4.25, 1e-9);
}

TEST(TimeModelTest, RooflineRefusesBadParameters) {
  ModelShape s;
  s.weight_bytes = 1;
  s.params = 1;
  RooflineParams p;
  p.peak_flops = 0;
  EXPECT_FALSE(StepTimeModel::FromRoofline(p, s).ok());
  EXPECT_FALSE(StepTimeModel::FromRoofline(RooflineParams{}, ModelShape{}).ok());
}

TEST(TimeModelTest, TransferIsBytesOverBandwidthPlusLatency) {
  EXPECT_EQ(TransferNanos(55'000'000'000, {55e9, 0}), 1'000'000'000);
  EXPECT_EQ(TransferNanos(1'000'000, {1e9, 2}), 3'000'000);
}

}  // namespace
}  // namespace hearth::sim
