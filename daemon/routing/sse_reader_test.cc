#include "daemon/routing/sse_reader.h"

#include <gtest/gtest.h>

namespace hearth::daemon {
namespace {

constexpr const char* kChunked =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    "f\r\ndata: {\"t\":1}\n\n\r\n"
    "e\r\n: keep-alive\n\n\r\n"
    "1d\r\ndata: {\"t\":2}\n\ndata: [DONE]\n\n\r\n"
    "0\r\n\r\n";

TEST(SseResponseReaderTest, ReadsAChunkedEventStreamWhole) {
  SseResponseReader r;
  std::vector<std::string> events;
  ASSERT_TRUE(r.Feed(kChunked, &events).ok());
  EXPECT_EQ(r.status(), 200);
  EXPECT_TRUE(r.ended());
  EXPECT_EQ(events, (std::vector<std::string>{"{\"t\":1}", "{\"t\":2}"}));
}

TEST(SseResponseReaderTest, ReadsItOneByteAtATime) {
  SseResponseReader r;
  std::vector<std::string> events;
  const std::string all = kChunked;
  for (char c : all) ASSERT_TRUE(r.Feed(std::string_view(&c, 1), &events).ok());
  EXPECT_TRUE(r.ended());
  EXPECT_EQ(events, (std::vector<std::string>{"{\"t\":1}", "{\"t\":2}"}));
}

TEST(SseResponseReaderTest, AnErrorResponseKeepsItsBody) {
  SseResponseReader r;
  std::vector<std::string> events;
  ASSERT_TRUE(r.Feed("HTTP/1.1 401 Unauthorized\r\nContent-Length: 13\r\n\r\n{\"error\":{}}\n", &events).ok());
  EXPECT_EQ(r.status(), 401);
  EXPECT_TRUE(r.ended());
  EXPECT_TRUE(events.empty());
  EXPECT_EQ(r.error_body(), "{\"error\":{}}\n");
}

TEST(SseResponseReaderTest, ABodyUpToTheCloseIsCompleteOnlyThen) {
  SseResponseReader r;
  std::vector<std::string> events;
  ASSERT_TRUE(r.Feed("HTTP/1.0 200 OK\r\n\r\ndata: a\n\n", &events).ok());
  EXPECT_FALSE(r.ended());
  EXPECT_TRUE(r.CloseComplete());
  EXPECT_EQ(events, (std::vector<std::string>{"a"}));
}

TEST(SseResponseReaderTest, ABrokenChunkedStreamIsNotComplete) {
  SseResponseReader r;
  std::vector<std::string> events;
  ASSERT_TRUE(r.Feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nda", &events).ok());
  EXPECT_FALSE(r.ended());
  EXPECT_FALSE(r.CloseComplete());
}

TEST(SseResponseReaderTest, MalformedResponsesAreErrors) {
  for (const char* bad : {"SMTP ready\r\n", "HTTP/1.1 20x OK\r\n", "HTTP/1.1 200 OK\r\nno colon here\r\n",
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n",
                          "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n",
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n",
                          "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab"}) {
    SseResponseReader r;
    std::vector<std::string> events;
    EXPECT_FALSE(r.Feed(bad, &events).ok()) << bad;
    EXPECT_FALSE(r.Feed("more", &events).ok()) << "a failed reader takes nothing more";
  }
}

TEST(SseResponseReaderTest, HugeHeadersAndLinesAreRefused) {
  SseResponseReader r;
  std::vector<std::string> events;
  EXPECT_FALSE(r.Feed("HTTP/1.1 200 OK\r\nX: " + std::string(70000, 'a'), &events).ok());
  SseResponseReader s;
  ASSERT_TRUE(s.Feed("HTTP/1.1 200 OK\r\n\r\n", &events).ok());
  EXPECT_FALSE(s.Feed("data: " + std::string((1 << 20) + 10, 'a'), &events).ok());
}

}  // namespace
}  // namespace hearth::daemon
