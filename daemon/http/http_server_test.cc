#include "daemon/http/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "daemon/http/stream_waker.h"

namespace hearth::http {
namespace {

using namespace std::chrono_literals;

// A blocking client socket with a receive timeout, so no test can hang.
class Client {
 public:
  explicit Client(int port, std::chrono::milliseconds timeout = 5000ms) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() { Close(); }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool connected() const { return connected_; }
  bool Send(const std::string& data) { return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == ssize_t(data.size()); }

  // Reads until `predicate(received)` holds, the peer closes, or the timeout.
  template <typename Pred>
  std::string ReadUntil(Pred predicate) {
    while (!predicate(buffer_)) {
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        eof_ = true;
        break;
      }
      buffer_.append(buf, static_cast<size_t>(n));
    }
    return buffer_;
  }
  std::string ReadAll() {
    return ReadUntil([](const std::string&) { return false; });
  }
  // One response with a Content-Length body, taken off the buffer.
  std::string ReadResponse() {
    auto complete = [](const std::string& b) {
      const size_t end = b.find("\r\n\r\n");
      if (end == std::string::npos) return false;
      const size_t cl = b.find("Content-Length: ");
      if (cl == std::string::npos || cl > end) return true;
      return b.size() >= end + 4 + std::stoul(b.substr(cl + 16));
    };
    ReadUntil(complete);
    if (!complete(buffer_)) return std::exchange(buffer_, "");
    const size_t end = buffer_.find("\r\n\r\n");
    const size_t cl = buffer_.find("Content-Length: ");
    const size_t size = end + 4 + (cl == std::string::npos || cl > end ? 0 : std::stoul(buffer_.substr(cl + 16)));
    std::string out = buffer_.substr(0, size);
    buffer_.erase(0, size);
    return out;
  }
  bool eof() const { return eof_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buffer_;
};

std::string Body(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

// Decodes a chunked body ("3\r\nabc\r\n0\r\n\r\n" -> "abc"); empty when incomplete.
std::string Dechunk(const std::string& body, bool* complete) {
  std::string out;
  size_t pos = 0;
  *complete = false;
  for (;;) {
    const size_t nl = body.find("\r\n", pos);
    if (nl == std::string::npos) return out;
    const size_t size = std::stoul(body.substr(pos, nl - pos), nullptr, 16);
    if (size == 0) {
      *complete = body.compare(nl, 4, "\r\n\r\n") == 0;
      return out;
    }
    if (body.size() < nl + 2 + size + 2) return out;
    out += body.substr(nl + 2, size);
    pos = nl + 2 + size + 2;
  }
}

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds limit = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

class HttpServerTest : public ::testing::Test {
 protected:
  void StartServer(HttpServerOptions options = {}) {
    server_ = std::make_unique<HttpServer>(options);
    Router& r = server_->router();
    r.Get("/hello", [](const Request&, Response& res) { res.set_content("hello", "text/plain"); });
    r.Get("/healthz", [](const Request&, Response& res) { res.set_content("ok", "text/plain"); },
          {.run_inline = true});
    r.Get(R"(/items/([a-z]+))", [](const Request& req, Response& res) {
      res.set_content(std::string(req.matches[1]) + "|" + req.get_param_value("q"), "text/plain");
    });
    r.Post("/echo", [](const Request& req, Response& res) { res.set_content(req.body, "text/plain"); });
    r.Get("/throw", [](const Request&, Response&) { throw std::runtime_error("boom"); });
    r.Get("/empty-error", [](const Request&, Response& res) { res.status = 409; });
    r.set_error_handler([](const Request&, Response& res) {
      if (res.body.empty()) res.set_content("filled " + std::to_string(res.status), "text/plain");
    });
    for (auto& [path, route] : extra_routes_) r.Get(path, route);
    auto port = server_->Start("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    port_ = *port;
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  std::vector<std::pair<std::string, Handler>> extra_routes_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

TEST_F(HttpServerTest, AnswersAndRoutes) {
  StartServer();
  Client c(port_);
  ASSERT_TRUE(c.connected());
  c.Send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string r = c.ReadResponse();
  EXPECT_EQ(r.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_NE(r.find("Content-Length: 5\r\n"), std::string::npos);
  EXPECT_NE(r.find("Connection: keep-alive\r\n"), std::string::npos);
  EXPECT_EQ(Body(r), "hello");

  c.Send("GET /items/abc?q=a%20b HTTP/1.1\r\n\r\n");  // same connection: keep-alive
  EXPECT_EQ(Body(c.ReadResponse()), "abc|a b");

  c.Send("GET /nowhere HTTP/1.1\r\n\r\n");
  r = c.ReadResponse();
  EXPECT_EQ(r.substr(0, 12), "HTTP/1.1 404");
  EXPECT_EQ(Body(r), "filled 404");

  c.Send("DELETE /hello HTTP/1.1\r\n\r\n");
  r = c.ReadResponse();
  EXPECT_EQ(r.substr(0, 12), "HTTP/1.1 405");
  EXPECT_NE(r.find("Allow: GET\r\n"), std::string::npos);

  c.Send("GET /throw HTTP/1.1\r\n\r\n");
  EXPECT_EQ(c.ReadResponse().substr(0, 12), "HTTP/1.1 500");

  c.Send("GET /empty-error HTTP/1.1\r\n\r\n");
  EXPECT_EQ(Body(c.ReadResponse()), "filled 409");

  c.Send("POST /echo HTTP/1.1\r\nContent-Length: 4\r\n\r\nping");
  EXPECT_EQ(Body(c.ReadResponse()), "ping");

  c.Send("HEAD /hello HTTP/1.1\r\n\r\n");
  r = c.ReadUntil([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
  EXPECT_EQ(r.substr(0, 15), "HTTP/1.1 200 OK");
}

TEST_F(HttpServerTest, RangeIsIgnored) {
  StartServer();
  Client c(port_);
  c.Send("GET /hello HTTP/1.1\r\nRange: bytes=0-1,0-1,0-1,0-1\r\n\r\n");
  const std::string r = c.ReadResponse();
  EXPECT_EQ(r.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_EQ(Body(r), "hello");
}

TEST_F(HttpServerTest, PipelinedRequestsAnsweredInOrder) {
  StartServer();
  Client c(port_);
  c.Send(
      "GET /items/one HTTP/1.1\r\n\r\n"
      "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\ntwo"
      "GET /items/three HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(Body(c.ReadResponse()), "one|");
  EXPECT_EQ(Body(c.ReadResponse()), "two");
  const std::string last = c.ReadResponse();
  EXPECT_EQ(Body(last), "three|");
  EXPECT_NE(last.find("Connection: close\r\n"), std::string::npos);
  c.ReadAll();
  EXPECT_TRUE(c.eof());
}

TEST_F(HttpServerTest, ChunkedRequestBodyIsRefusedWith411) {
  StartServer();
  Client c(port_);
  c.Send("POST /echo HTTP/1.1\r\nTransfer-Encoding: ChUnKeD\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  const std::string r = c.ReadResponse();
  EXPECT_EQ(r.substr(0, 12), "HTTP/1.1 411");
  EXPECT_NE(Body(r).find("Content-Length"), std::string::npos);
  EXPECT_NE(r.find("Connection: close"), std::string::npos);
}

TEST_F(HttpServerTest, TooManyHeadersIs431) {
  StartServer();
  Client c(port_);
  std::string req = "GET /hello HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) req += "X: v\r\n";
  c.Send(req + "\r\n");
  EXPECT_EQ(c.ReadResponse().substr(0, 12), "HTTP/1.1 431");
}

TEST_F(HttpServerTest, SlowHeaderSenderIsCutAtTheDeadline) {
  HttpServerOptions options;
  options.header_deadline = 300ms;
  StartServer(options);
  Client c(port_);
  c.Send("GET /hello HTTP/1.1\r\n");
  const auto start = std::chrono::steady_clock::now();
  // One header line every 50 ms: each read is quick, the head as a whole is not.
  bool cut = false;
  for (int i = 0; i < 100 && !cut; ++i) {
    std::this_thread::sleep_for(50ms);
    cut = !c.Send("X-Slow-" + std::to_string(i) + ": v\r\n");
  }
  const std::string r = c.ReadAll();
  EXPECT_TRUE(c.eof());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
  EXPECT_EQ(r.substr(0, 12), "HTTP/1.1 408");
}

TEST_F(HttpServerTest, PerClientCapRefusesWith503) {
  HttpServerOptions options;
  options.max_connections_per_ip = 2;
  StartServer(options);
  Client a(port_), b(port_);
  ASSERT_TRUE(WaitFor([&] { return server_->num_connections() == 2; }));
  Client c(port_);
  c.Send("GET /hello HTTP/1.1\r\n\r\n");
  const std::string r = c.ReadAll();
  EXPECT_EQ(r.substr(0, 12), "HTTP/1.1 503");
  EXPECT_NE(r.find("Retry-After: 1\r\n"), std::string::npos);
  EXPECT_NE(Body(r).find(R"("type":"server_error","param":null,"code":"too_many_connections")"), std::string::npos);
  // A slot frees when a connection ends.
  a.Close();
  ASSERT_TRUE(WaitFor([&] { return server_->num_connections() == 1; }));
  Client d(port_);
  d.Send("GET /hello HTTP/1.1\r\n\r\n");
  EXPECT_EQ(Body(d.ReadResponse()), "hello");
}

TEST_F(HttpServerTest, StreamWritesThreeChunksThenDone) {
  std::promise<bool> released;
  std::atomic<int> in_call{0};
  std::atomic<bool> overlapped{false};
  extra_routes_.push_back({"/stream", [&](const Request&, Response& res) {
    auto calls = std::make_shared<int>(0);
    res.set_chunked_content_provider(
        "text/plain",
        [&, calls](size_t offset, httplib::DataSink& sink) {
          if (in_call++ != 0) overlapped = true;
          EXPECT_EQ(offset, static_cast<size_t>(*calls) * 5);
          const std::string piece = "part" + std::to_string((*calls)++);
          sink.write(piece.data(), piece.size());
          if (*calls == 3) sink.done();
          --in_call;
          return true;
        },
        [&](bool success) { released.set_value(success); });
  }});
  StartServer();
  Client c(port_);
  c.Send("GET /stream HTTP/1.1\r\n\r\n");
  bool complete = false;
  const std::string r = c.ReadUntil([&](const std::string& b) {
    Dechunk(Body(b), &complete);
    return complete;
  });
  EXPECT_NE(r.find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_EQ(r.find("Content-Length"), std::string::npos);
  EXPECT_EQ(Dechunk(Body(r), &complete), "part0part1part2");
  EXPECT_TRUE(complete);
  auto future = released.get_future();
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(future.get());
  EXPECT_FALSE(overlapped);
  // The connection stays usable after the stream.
  c.Send("GET /hello HTTP/1.1\r\n\r\n");
  c.ReadUntil([](const std::string& b) { return b.find("hello") != std::string::npos; });
  EXPECT_FALSE(c.eof());
}

// A provider gets a waker inside its call (none outside one); calling it, even from inside the
// call or after the stream and the server are gone, is safe and brings the next call.
TEST_F(HttpServerTest, StreamWakerInsideProviderCallsOnly) {
  EXPECT_FALSE(CurrentStreamWaker()) << "no waker outside a provider call";
  std::mutex mu;
  std::function<void()> kept;
  std::promise<bool> released;
  extra_routes_.push_back({"/woken", [&](const Request&, Response& res) {
                             auto calls = std::make_shared<int>(0);
                             res.set_chunked_content_provider(
                                 "text/plain",
                                 [&, calls](size_t, httplib::DataSink& sink) {
                                   std::function<void()> waker = CurrentStreamWaker();
                                   EXPECT_TRUE(waker);
                                   if ((*calls)++ == 0) {
                                     {
                                       std::lock_guard<std::mutex> lock(mu);
                                       kept = waker;
                                     }
                                     waker();  // during the call: the next call comes without a backoff
                                     return true;
                                   }
                                   sink.write("woken", 5);
                                   sink.done();
                                   return true;
                                 },
                                 [&](bool success) { released.set_value(success); });
                           }});
  StartServer();
  Client c(port_);
  c.Send("GET /woken HTTP/1.1\r\n\r\n");
  bool complete = false;
  const std::string r = c.ReadUntil([&](const std::string& b) {
    Dechunk(Body(b), &complete);
    return complete;
  });
  EXPECT_EQ(Dechunk(Body(r), &complete), "woken");
  auto future = released.get_future();
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(future.get());
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_TRUE(kept);
  kept();  // the stream has ended: nothing happens
  server_->Stop();
  server_.reset();
  kept();  // the server is gone: still nothing happens
}

TEST_F(HttpServerTest, ClientDisconnectMidStreamReleasesWithFalse) {
  std::promise<bool> released;
  std::atomic<int> releases{0};
  extra_routes_.push_back({"/forever", [&](const Request&, Response& res) {
    res.set_chunked_content_provider(
        "text/event-stream",
        [](size_t, httplib::DataSink& sink) {
          std::this_thread::sleep_for(10ms);  // like a provider waiting for events
          return sink.write("data: x\n\n", 9);
        },
        [&](bool success) {
          if (releases++ == 0) released.set_value(success);
        });
  }});
  StartServer();
  {
    Client c(port_);
    c.Send("GET /forever HTTP/1.1\r\n\r\n");
    c.ReadUntil([](const std::string& b) { return b.find("data: x") != std::string::npos; });
  }  // closes mid-stream
  auto future = released.get_future();
  ASSERT_EQ(future.wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(future.get());
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(releases.load(), 1);
}

TEST_F(HttpServerTest, StopEndsOpenStreamsWithFalse) {
  std::atomic<int> released_false{0};
  extra_routes_.push_back({"/idle", [&](const Request&, Response& res) {
    res.set_chunked_content_provider(
        "text/plain", [](size_t, httplib::DataSink&) { return true; },
        [&](bool success) { released_false += success ? 100 : 1; });
  }});
  StartServer();
  Client c(port_);
  c.Send("GET /idle HTTP/1.1\r\n\r\n");
  c.ReadUntil([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; });
  server_->Stop();
  EXPECT_EQ(released_false.load(), 1);
}

TEST_F(HttpServerTest, InlineHealthzAnswersWhileEveryHandlerIsBlocked) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> blocked{0};
  extra_routes_.push_back({"/block", [&](const Request&, Response& res) {
    ++blocked;
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, 20s, [&] { return release; });
    res.set_content("unblocked", "text/plain");
  }});
  HttpServerOptions options;
  options.handler_threads = 2;
  StartServer(options);
  std::vector<std::unique_ptr<Client>> blockers;
  for (int i = 0; i < 4; ++i) {
    blockers.push_back(std::make_unique<Client>(port_));
    blockers.back()->Send("GET /block HTTP/1.1\r\n\r\n");
  }
  ASSERT_TRUE(WaitFor([&] { return blocked == 2; }));
  Client probe(port_, 2000ms);
  probe.Send("GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(Body(probe.ReadResponse()), "ok");
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  for (auto& b : blockers) EXPECT_EQ(Body(b->ReadResponse()), "unblocked");
}

TEST_F(HttpServerTest, HealthzAnswersWith500SlowlorisConnectionsOpen) {
  StartServer();
  std::vector<std::unique_ptr<Client>> slow;
  for (int i = 0; i < 500; ++i) {
    slow.push_back(std::make_unique<Client>(port_));
    slow.back()->Send("GET /hello HTTP/1.1\r\nX-A: 1\r\n");
  }
  ASSERT_TRUE(WaitFor([&] { return server_->num_connections() == 500; }));
  for (auto& s : slow) s->Send("X-B: 2\r\n");
  const auto start = std::chrono::steady_clock::now();
  Client probe(port_, 2000ms);
  probe.Send("GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(Body(probe.ReadResponse()), "ok");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST_F(HttpServerTest, TakenPortFailsStart) {
  StartServer();
  HttpServer second;
  auto port = second.Start("127.0.0.1", port_);
  ASSERT_FALSE(port.ok());
  EXPECT_NE(port.status().message().find("cannot listen on 127.0.0.1:" + std::to_string(port_)), std::string::npos)
      << port.status().ToString();
}

TEST_F(HttpServerTest, BindFailsOnATakenPortAndRefusesUntilServe) {
  StartServer();
  HttpServer second;
  auto taken = second.Bind("127.0.0.1", port_);
  ASSERT_FALSE(taken.ok());
  EXPECT_NE(taken.status().message().find("cannot listen on"), std::string::npos) << taken.status().ToString();

  HttpServer third;
  third.router().Get("/hello", [](const Request&, Response& res) { res.set_content("third", "text/plain"); });
  auto port = third.Bind("127.0.0.1", 0);
  ASSERT_TRUE(port.ok()) << port.status().ToString();
  EXPECT_FALSE(Client(*port).connected());  // bound, not listening: refused, not left hanging
  ASSERT_TRUE(third.Serve().ok());
  Client c(*port);
  ASSERT_TRUE(c.connected());
  c.Send("GET /hello HTTP/1.1\r\n\r\n");
  EXPECT_EQ(Body(c.ReadResponse()), "third");
  third.Stop();
}

// One rule, in the router: a response without X-Request-Id gets a local one, whatever made it
// (a route, a 404, a 405, a handler that threw, the server refusing a connection).
TEST_F(HttpServerTest, EveryResponseCarriesARequestId) {
  extra_routes_.push_back({"/with-id", [](const Request&, Response& res) {
                             res.set_header("X-Request-Id", "42");
                             res.set_content("x", "text/plain");
                           }});
  HttpServerOptions options;
  options.max_connections_per_ip = 1;
  StartServer(options);
  Client c(port_);
  auto id_of = [](const std::string& r) {
    const size_t at = r.find("X-Request-Id: ");
    return at == std::string::npos ? std::string() : r.substr(at + 14, r.find("\r\n", at) - at - 14);
  };
  c.Send("GET /with-id HTTP/1.1\r\n\r\n");
  EXPECT_EQ(id_of(c.ReadResponse()), "42");  // a route's own id is kept
  std::set<std::string> ids;
  for (const char* request : {"GET /hello HTTP/1.1\r\n\r\n", "GET /healthz HTTP/1.1\r\n\r\n",
                              "GET /nowhere HTTP/1.1\r\n\r\n", "DELETE /hello HTTP/1.1\r\n\r\n",
                              "GET /throw HTTP/1.1\r\n\r\n", "HEAD /hello HTTP/1.1\r\n\r\n"}) {  // HEAD last
    c.Send(request);
    const std::string r =
        std::string(request).rfind("HEAD", 0) == 0
            ? c.ReadUntil([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; })
            : c.ReadResponse();
    const std::string id = id_of(r);
    EXPECT_EQ(id.rfind("local-", 0), 0u) << request << r;
    EXPECT_EQ(id.size(), 6u + 16u) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 6u);  // each its own

  Client refused(port_);  // over the per-client cap: the server's own 503
  refused.Send("GET /hello HTTP/1.1\r\n\r\n");
  const std::string r = refused.ReadAll();
  EXPECT_EQ(r.substr(0, 12), "HTTP/1.1 503");
  EXPECT_EQ(id_of(r).rfind("local-", 0), 0u) << r;
}

}  // namespace
}  // namespace hearth::http
