#include "daemon/ops/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

namespace hearth::daemon {
namespace {

TEST(MetricsTest, FormatsValues) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(42), "42");
  EXPECT_EQ(FormatMetricValue(-3), "-3");
  EXPECT_EQ(FormatMetricValue(0.25), "0.25");
  EXPECT_EQ(FormatMetricValue(0.005), "0.005");
  EXPECT_EQ(FormatMetricValue(1e-7), "1e-07");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
}

TEST(MetricsTest, UnlabelledCounterAndGaugeStartAtZero) {
  MetricRegistry r;
  r.AddCounter("hearth_things_total", "Things done.");
  r.AddGauge("hearth_level", "A level.");
  EXPECT_EQ(r.Render(),
            "# HELP hearth_things_total Things done.\n"
            "# TYPE hearth_things_total counter\n"
            "hearth_things_total 0\n"
            "# HELP hearth_level A level.\n"
            "# TYPE hearth_level gauge\n"
            "hearth_level 0\n");
}

TEST(MetricsTest, LabelledCounterRendersChildrenSortedByLabels) {
  MetricRegistry r;
  Counter& c = r.AddCounter("hearth_requests_total", "Requests.", {"model", "status"});
  EXPECT_EQ(r.Render(), "# HELP hearth_requests_total Requests.\n# TYPE hearth_requests_total counter\n");
  c.Inc({"smol", "ok"});
  c.Inc({"smol", "ok"});
  c.Inc({"big", "error"}, 0.5);
  c.Inc({"smol", "cancelled"});
  EXPECT_EQ(c.Value({"smol", "ok"}), 2);
  EXPECT_EQ(c.Value({"nobody", "ok"}), 0);
  EXPECT_EQ(r.Render(),
            "# HELP hearth_requests_total Requests.\n"
            "# TYPE hearth_requests_total counter\n"
            "hearth_requests_total{model=\"big\",status=\"error\"} 0.5\n"
            "hearth_requests_total{model=\"smol\",status=\"cancelled\"} 1\n"
            "hearth_requests_total{model=\"smol\",status=\"ok\"} 2\n");
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  MetricRegistry r;
  Gauge& g = r.AddGauge("hearth_g", "Line one\nback\\slash \"quoted\".", {"path"});
  g.Set({"a\"b\\c\nd"}, 7);
  EXPECT_EQ(r.Render(),
            "# HELP hearth_g Line one\\nback\\\\slash \"quoted\".\n"
            "# TYPE hearth_g gauge\n"
            "hearth_g{path=\"a\\\"b\\\\c\\nd\"} 7\n");
}

TEST(MetricsTest, GaugeSetAndAdd) {
  MetricRegistry r;
  Gauge& g = r.AddGauge("hearth_blocks", "Blocks.", {"state"});
  g.Set({"free"}, 10);
  g.Add({"free"}, -3);
  g.Add({"used"}, 3);
  EXPECT_EQ(g.Value({"free"}), 7);
  EXPECT_EQ(r.Render(),
            "# HELP hearth_blocks Blocks.\n"
            "# TYPE hearth_blocks gauge\n"
            "hearth_blocks{state=\"free\"} 7\n"
            "hearth_blocks{state=\"used\"} 3\n");
}

TEST(MetricsTest, CounterMirrorsAnOutsideTotal) {
  MetricRegistry r;
  Counter& c = r.AddCounter("hearth_tokens_total", "Tokens.");
  c.SetTotal({}, 1234);
  EXPECT_EQ(r.Render(),
            "# HELP hearth_tokens_total Tokens.\n# TYPE hearth_tokens_total counter\nhearth_tokens_total 1234\n");
}

TEST(MetricsTest, CounterFollowsATotalThatRestarts) {
  MetricRegistry r;
  Counter& c = r.AddCounter("hearth_blocks_total", "Blocks.", {"model"});
  c.FollowTotal({"a"}, 10);
  c.FollowTotal({"a"}, 15);
  EXPECT_EQ(c.Value({"a"}), 15);
  c.FollowTotal({"a"}, 4);  // the source started again from 0
  EXPECT_EQ(c.Value({"a"}), 19);
  c.FollowTotal({"a"}, 4);
  EXPECT_EQ(c.Value({"a"}), 19);
  c.FollowTotal({"b"}, 2);
  EXPECT_EQ(c.Value({"b"}), 2);
}

TEST(MetricsTest, HistogramIsCumulativeWithInfSumAndCount) {
  MetricRegistry r;
  Histogram& h = r.AddHistogram("hearth_latency_seconds", "Latency.", {0.125, 0.5, 2});
  h.Observe(0.0625);
  h.Observe(0.125);  // a value equal to a bound falls in that bucket (le = "less or equal")
  h.Observe(0.25);
  h.Observe(10);
  EXPECT_EQ(r.Render(),
            "# HELP hearth_latency_seconds Latency.\n"
            "# TYPE hearth_latency_seconds histogram\n"
            "hearth_latency_seconds_bucket{le=\"0.125\"} 2\n"
            "hearth_latency_seconds_bucket{le=\"0.5\"} 3\n"
            "hearth_latency_seconds_bucket{le=\"2\"} 3\n"
            "hearth_latency_seconds_bucket{le=\"+Inf\"} 4\n"
            "hearth_latency_seconds_sum 10.4375\n"
            "hearth_latency_seconds_count 4\n");
  Histogram::Snapshot s = h.Get();
  EXPECT_EQ(s.count, 4u);
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 3, 3, 4}));
}

TEST(MetricsTest, EmptyUnlabelledHistogramRendersZeros) {
  MetricRegistry r;
  r.AddHistogram("hearth_h", "H.", {1});
  EXPECT_EQ(r.Render(),
            "# HELP hearth_h H.\n# TYPE hearth_h histogram\n"
            "hearth_h_bucket{le=\"1\"} 0\nhearth_h_bucket{le=\"+Inf\"} 0\nhearth_h_sum 0\nhearth_h_count 0\n");
}

TEST(MetricsTest, LabelledHistogramPutsLeLast) {
  MetricRegistry r;
  Histogram& h = r.AddHistogram("hearth_ttft_seconds", "TTFT.", {0.5, 1}, {"model"});
  h.Observe({"smol"}, 0.75);
  EXPECT_EQ(r.Render(),
            "# HELP hearth_ttft_seconds TTFT.\n"
            "# TYPE hearth_ttft_seconds histogram\n"
            "hearth_ttft_seconds_bucket{model=\"smol\",le=\"0.5\"} 0\n"
            "hearth_ttft_seconds_bucket{model=\"smol\",le=\"1\"} 1\n"
            "hearth_ttft_seconds_bucket{model=\"smol\",le=\"+Inf\"} 1\n"
            "hearth_ttft_seconds_sum{model=\"smol\"} 0.75\n"
            "hearth_ttft_seconds_count{model=\"smol\"} 1\n");
}

TEST(MetricsTest, ExponentialBuckets) {
  EXPECT_EQ(ExponentialBuckets(0.01, 2, 4), (std::vector<double>{0.01, 0.02, 0.04, 0.08}));
}

TEST(MetricsTest, ConcurrentUpdatesAreAllCounted) {
  MetricRegistry r;
  Counter& c = r.AddCounter("hearth_c_total", "C.", {"t"});
  Histogram& h = r.AddHistogram("hearth_h", "H.", {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        c.Inc({t % 2 ? "odd" : "even"});
        h.Observe(0.5);
        if (i % 100 == 0) (void)r.Render();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value({"odd"}) + c.Value({"even"}), 4000);
  EXPECT_EQ(h.Get().count, 4000u);
}

TEST(MetricsDeathTest, MisuseAborts) {
  MetricRegistry r;
  Counter& c = r.AddCounter("hearth_x_total", "X.", {"a"});
  EXPECT_DEATH(c.Inc({}), "label values");
  EXPECT_DEATH(c.Inc({"v"}, -1), "decremented");
  EXPECT_DEATH(r.AddGauge("hearth_x_total", "dup"), "added twice");
  EXPECT_DEATH(r.AddGauge("9bad", "bad"), "bad metric name");
  EXPECT_DEATH(r.AddHistogram("hearth_h", "H.", {2, 1}), "increase");
}

// The names `promtool check metrics` would lint are refused when the family is added.
TEST(MetricsDeathTest, PromtoolLintsAbortAtRegistration) {
  MetricRegistry r;
  EXPECT_DEATH(r.AddCounter("hearth_requests", "Requests."), "a counter's name ends in _total");
  EXPECT_DEATH(r.AddGauge("hearth_blocks_total", "Blocks."), "only a counter's name ends in _total");
  EXPECT_DEATH(r.AddHistogram("hearth_wait_total", "Wait.", {1}), "only a counter's name ends in _total");
  EXPECT_DEATH(r.AddGauge("hearth_level", ""), "no help text");
}

}  // namespace
}  // namespace hearth::daemon
