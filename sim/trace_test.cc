#include "sim/trace.h"

#include <gtest/gtest.h>

namespace hearth::sim {
namespace {

constexpr char kTrace[] =
    "TIMESTAMP,ContextTokens,GeneratedTokens\r\n"
    "2023-11-16 18:15:46.6805900,100,10\r\n"
    "2023-11-16 18:15:47.1805900,200,20\r\n"
    "2023-11-16 18:15:48.6805900,300,30\r\n"
    "2023-11-16 18:15:50.6805900,400,40";

TEST(TraceTest, ParsesAzureRows) {
  auto rows = ParseAzureTrace(kTrace);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_DOUBLE_EQ((*rows)[0].at_s, 0);
  EXPECT_NEAR((*rows)[1].at_s, 0.5, 1e-9);
  EXPECT_NEAR((*rows)[3].at_s, 4.0, 1e-9);
  EXPECT_EQ((*rows)[2].context_tokens, 300);
  EXPECT_EQ((*rows)[2].generated_tokens, 30);
}

TEST(TraceTest, RefusesMalformedRows) {
  EXPECT_FALSE(ParseAzureTrace("TIMESTAMP,a,b\n2023-11-16 18:15:46.6,1\n").ok());
  EXPECT_FALSE(ParseAzureTrace("2023-11-16 18:15:46.6,x,1\n").ok());
  EXPECT_FALSE(ParseAzureTrace("2023-11-16 18:15:46.6,0,1\n").ok());
  EXPECT_FALSE(ParseAzureTrace("2023-11-16 18:15:46.6,1,99999999999\n").ok());
  EXPECT_FALSE(ParseAzureTrace("2023-11-16 18:15:48,1,1\n2023-11-16 18:15:46,1,1\n").ok());
  EXPECT_FALSE(ParseAzureTrace("TIMESTAMP,ContextTokens,GeneratedTokens\n").ok());
}

TEST(TraceTest, MapsExactCountsPerModelByPopularity) {
  auto rows = ParseAzureTrace(kTrace);
  ASSERT_TRUE(rows.ok());
  MappingOptions o;
  o.duration_s = 100;
  o.total_rate = 3;  // 300 requests: shares 1/1.5 and 0.5/1.5 with alpha 1
  o.max_prompt_tokens = 250;
  auto arrivals = MapArrivals({*rows}, 2, o);
  ASSERT_TRUE(arrivals.ok());
  int count[2] = {0, 0};
  int64_t last = 0;
  for (const auto& a : *arrivals) {
    count[a.model]++;
    EXPECT_GE(a.at_ns, last);
    last = a.at_ns;
    EXPECT_LE(a.prompt_tokens, 250);
    EXPECT_LT(a.at_ns, 100'000'000'000);
  }
  EXPECT_EQ(count[0], 200);
  EXPECT_EQ(count[1], 100);
  auto again = MapArrivals({*rows}, 2, o);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), arrivals->size());
  for (size_t i = 0; i < again->size(); ++i) EXPECT_EQ((*again)[i].at_ns, (*arrivals)[i].at_ns);
}

TEST(TraceTest, SpotTraceScalesToTheFleet) {
  // Live counts: 1, 2, 3, 4 (max), then 2.
  auto events = ParseSpotTrace("0,add,a\n1000,add,b\n2000,add,c\n3000,add,d\n4000,remove,a\n4000,remove,b\n");
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  int32_t initial = 0;
  auto changes = ScaleSpotTrace(*events, 1.5, 1.0, 10, 40, &initial);
  EXPECT_EQ(initial, 20);  // 2 of 4 live at 1.5 s
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].at_ns, 500'000'000);
  EXPECT_EQ(changes[0].delta, 10);
  EXPECT_EQ(changes[1].delta, 10);
  EXPECT_EQ(changes[2].at_ns, 2'500'000'000);
  EXPECT_EQ(changes[2].delta, -20);
  // bench/spot's reading: one node per fall or rise, within [1, fleet].
  auto steps = StepSpotTrace(*events, 0.5, 1.0, 10, 2);
  ASSERT_EQ(steps.size(), 1u);  // the rises find the fleet full; of the two falls only one fits
  EXPECT_EQ(steps[0].at_ns, 3'500'000'000);
  EXPECT_EQ(steps[0].delta, -1);
  EXPECT_FALSE(ParseSpotTrace("0,join,a\n").ok());
  EXPECT_FALSE(ParseSpotTrace("5,add,a\n1,add,b\n").ok());
}

}  // namespace
}  // namespace hearth::sim
