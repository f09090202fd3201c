// Event streams over real HTTP: OpenStreams counts a stream until its last event and [DONE]
// are written, so a daemon that waits for it before stopping its listener cuts no stream short.
#include "daemon/api/event_stream.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "daemon/http/http_server.h"

namespace hearth::daemon {
namespace {

using namespace std::chrono_literals;

TEST(OpenStreamsTest, WaitsForEveryStreamToBeRemoved) {
  OpenStreams open;
  EXPECT_TRUE(open.WaitUntilNone(0ms));
  open.Add();
  open.Add();
  EXPECT_FALSE(open.WaitUntilNone(20ms));
  open.Remove();
  EXPECT_FALSE(open.WaitUntilNone(20ms)) << "one is still open";
  std::thread later([&open] {
    std::this_thread::sleep_for(50ms);
    open.Remove();
  });
  EXPECT_TRUE(open.WaitUntilNone(10s));
  later.join();
}

// The request ends and the listener stops right after, as in Daemon::Stop: the client still
// gets the last event and [DONE], because the stop waits for the stream to be written out.
TEST(OpenStreamsTest, AStreamEndingAtStopIsWrittenOutBeforeTheListenerStops) {
  for (int round = 0; round < 20; ++round) {
    OpenStreams open;
    std::atomic<bool> reading{false}, ended{false};
    http::HttpServer server;
    server.router().Get("/events", [&](const httplib::Request&, httplib::Response& res) {
      EventSource source;
      source.read = [&](uint64_t after, std::chrono::milliseconds wait) {
        reading = true;
        EventsRead read;
        if (!ended) {
          std::this_thread::sleep_for(std::min(wait, std::chrono::milliseconds(5)));
          return read;
        }
        if (after == 0) read.events.push_back({1, R"({"error":{"message":"server shutting down"}})"});
        read.done = true;
        return read;
      };
      source.ended = [&] { return ended.load(); };
      ServeEvents(res, std::move(source), nullptr, &open);
    });
    StatusOr<int> started = server.Start("127.0.0.1", 0);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    const int port = *started;
    std::string body;
    std::thread client([&] {
      httplib::Client cli("127.0.0.1", port);
      cli.Get("/events", [&](const char* data, size_t n) {
        body.append(data, n);
        return true;
      });
    });
    while (!reading) std::this_thread::sleep_for(1ms);
    EXPECT_FALSE(open.WaitUntilNone(0ms)) << "the stream is open";
    ended = true;
    EXPECT_TRUE(open.WaitUntilNone(10s));
    server.Stop();
    client.join();
    ASSERT_NE(body.find("server shutting down"), std::string::npos) << "round " << round << ": " << body;
    ASSERT_TRUE(body.ends_with("data: [DONE]\n\n")) << "round " << round << ": " << body;
  }
}

}  // namespace
}  // namespace hearth::daemon
