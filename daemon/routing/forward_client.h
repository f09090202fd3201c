// The forwarding data plane's client side (docs/cluster.md, "Routing"): streams from this node
// to its peers on Boost.Asio. A few I/O threads hold every forwarded stream (a socket, a
// resolver and a timer each, never a thread): thousands of them cost kilobytes each.
//
// Each stream sends one HTTP request and reads its response as server-sent events, handing
// each batch of event data that arrived to its handler, then closes once.
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// clang-format off
#include <boost/asio.hpp>
// clang-format on
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"

namespace hearth::daemon {

struct PeerAddress {
  std::string host;
  std::string port;
};

// "http://HOST:PORT" (a node's advertised URL): InvalidArgument for anything else.
StatusOr<PeerAddress> ParsePeerUrl(std::string_view url);

// Called on an I/O thread; must not block.
class ForwardStreamHandler {
 public:
  virtual ~ForwardStreamHandler() = default;
  // The response's status line and headers arrived (before any event).
  virtual void OnStatus(int http_status) { (void)http_status; }
  // The data of the events that arrived, in order.
  virtual void OnEvents(std::vector<std::string> events) = 0;
  // Once, last. OK: the response was a 200 whose stream ended ([DONE] or its body's end).
  // Otherwise why not: `http_status` is the response's status (0: none came) and
  // `error_body` its body (a peer's OpenAI error), and the status is Unavailable for a
  // connection that failed, broke, went silent for the idle timeout, or was closed by Close().
  virtual void OnClosed(const Status& why, int http_status, const std::string& error_body) = 0;
};

struct ForwardClientOptions {
  int threads = 1;
  // A stream that receives nothing for this long is given up (peers send a keep-alive comment
  // every 5 s while a request waits).
  std::chrono::milliseconds idle_timeout{15000};
  std::chrono::milliseconds connect_timeout{3000};
};

class ForwardClient {
 public:
  explicit ForwardClient(ForwardClientOptions options = {});
  ~ForwardClient();  // Stop()

  // Starts a stream: connects to `peer`, sends `request` (a whole HTTP/1.1 request) and reads
  // the answer. Returns the stream's id.
  uint64_t Open(const PeerAddress& peer, std::string request, std::shared_ptr<ForwardStreamHandler> handler);
  // Closes a stream (any thread): its handler's OnClosed comes (Unavailable "closed") unless
  // it already came. Unknown ids are ignored.
  void Close(uint64_t stream);
  size_t num_open() const;
  // Closes every stream and joins the threads. Safe to call twice.
  void Stop();

 private:
  class Stream;
  friend class Stream;
  void Forget(uint64_t id);

  const ForwardClientOptions options_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;

  mutable std::mutex mu_;
  std::map<uint64_t, std::weak_ptr<Stream>> streams_;  // GUARDED_BY(mu_)
  uint64_t next_id_ = 1;                               // GUARDED_BY(mu_)
  bool stopped_ = false;                               // GUARDED_BY(mu_)
};

// An HTTP/1.1 POST of `body` to `path` on `peer`, with the cluster token, asking for an event
// stream.
std::string PeerPostRequest(const PeerAddress& peer, const std::string& path, const std::string& token,
                            const std::string& content_type, const std::string& body);
// The one that forwards `body` (EncodeForwardRequest) to `peer`.
std::string ForwardHttpRequest(const PeerAddress& peer, const std::string& token, const std::string& body);

}  // namespace hearth::daemon
