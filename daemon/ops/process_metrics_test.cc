#include "daemon/ops/process_metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>

namespace hearth::daemon {
namespace {

TEST(ProcessMetricsTest, ParsesProcStatCountingFieldsFromTheLastParenthesis) {
  // A command name with a space and a ')' in it; utime 250, stime 50, starttime 1000 ticks,
  // vsize 8192, rss 3 pages.
  const std::string stat =
      "4242 (hearth) d) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1000 8192 3 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  ProcessSample s;
  ASSERT_TRUE(ParseProcStat(stat, 1700000000, 100, 4096, &s).ok());
  EXPECT_DOUBLE_EQ(s.cpu_seconds, 3.0);
  EXPECT_DOUBLE_EQ(s.start_time_seconds, 1700000010.0);
  EXPECT_DOUBLE_EQ(s.virtual_bytes, 8192);
  EXPECT_DOUBLE_EQ(s.resident_bytes, 3 * 4096);
  EXPECT_FALSE(ParseProcStat("4242 (x) S 1 2", 0, 100, 4096, &s).ok());
  EXPECT_FALSE(ParseProcStat("no parenthesis", 0, 100, 4096, &s).ok());
}

TEST(ProcessMetricsTest, ReadsThisProcess) {
  StatusOr<ProcessSample> s = ReadProcessSample();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_GT(s->resident_bytes, 0);
  EXPECT_GE(s->open_fds, 3);  // stdin, stdout, stderr
  EXPECT_GE(s->max_fds, s->open_fds);
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(s->start_time_seconds, now + 1);
  EXPECT_GT(s->start_time_seconds, now - 3600);  // started within the hour: the test just did
}

}  // namespace
}  // namespace hearth::daemon
