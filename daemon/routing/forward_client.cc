#include "daemon/routing/forward_client.h"

#include <array>

#include "daemon/routing/forward_wire.h"
#include "daemon/routing/sse_reader.h"

namespace hearth::daemon {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

StatusOr<PeerAddress> ParsePeerUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.substr(0, kScheme.size()) != kScheme) return Status::InvalidArgument("not an http:// URL");
  std::string_view rest = url.substr(kScheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) {
    return Status::InvalidArgument("no HOST:PORT in the URL");
  }
  PeerAddress peer{std::string(rest.substr(0, colon)), std::string(rest.substr(colon + 1))};
  if (peer.host.front() == '[' && peer.host.back() == ']') peer.host = peer.host.substr(1, peer.host.size() - 2);
  if (peer.port.find_first_not_of("0123456789") != std::string::npos || peer.port.size() > 5 ||
      std::stoi(peer.port) < 1 || std::stoi(peer.port) > 65535) {
    return Status::InvalidArgument("bad port in the URL");
  }
  for (char c : peer.host) {
    if (c == '/' || c == '@' || static_cast<unsigned char>(c) <= ' ') return Status::InvalidArgument("bad host in the URL");
  }
  return peer;
}

std::string PeerPostRequest(const PeerAddress& peer, const std::string& path, const std::string& token,
                            const std::string& content_type, const std::string& body) {
  std::string r;
  r.reserve(body.size() + 256);
  r.append("POST ").append(path).append(" HTTP/1.1\r\nHost: ").append(peer.host).append(":").append(peer.port);
  r.append("\r\nAuthorization: Bearer ").append(token);
  r.append("\r\nContent-Type: ").append(content_type);
  r.append("\r\nAccept: text/event-stream\r\nConnection: close\r\nContent-Length: ");
  r.append(std::to_string(body.size())).append("\r\n\r\n").append(body);
  return r;
}

std::string ForwardHttpRequest(const PeerAddress& peer, const std::string& token, const std::string& body) {
  return PeerPostRequest(peer, kForwardPath, token, "application/json", body);
}

// One forwarded stream. Everything runs on its strand.
class ForwardClient::Stream : public std::enable_shared_from_this<ForwardClient::Stream> {
 public:
  Stream(ForwardClient* client, uint64_t id, std::string request, std::shared_ptr<ForwardStreamHandler> handler)
      : client_(client),
        id_(id),
        strand_(asio::make_strand(client->io_)),
        socket_(strand_),
        resolver_(strand_),
        timer_(strand_),
        request_(std::move(request)),
        handler_(std::move(handler)) {}

  void Start(const PeerAddress& peer) {
    asio::dispatch(strand_, [self = shared_from_this(), peer] {
      self->Arm(self->client_->options_.connect_timeout);
      self->resolver_.async_resolve(peer.host, peer.port,
                                    [self](const boost::system::error_code& ec, tcp::resolver::results_type results) {
                                      self->OnResolved(ec, std::move(results));
                                    });
    });
  }

  void Close() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->End(Status::Unavailable("closed"), 0); });
  }

 private:
  void Arm(std::chrono::milliseconds after) {
    timer_.expires_after(after);
    timer_.async_wait([self = shared_from_this(), generation = ++timer_generation_](const boost::system::error_code& ec) {
      if (ec || generation != self->timer_generation_) return;
      self->End(Status::Unavailable("the peer went silent"), 0);
    });
  }

  void OnResolved(const boost::system::error_code& ec, tcp::resolver::results_type results) {
    if (ended_) return;
    if (ec) return End(Status::Unavailable("cannot resolve the peer: " + ec.message()), 0);
    asio::async_connect(socket_, results, [self = shared_from_this()](const boost::system::error_code& ec, const tcp::endpoint&) {
      self->OnConnected(ec);
    });
  }

  void OnConnected(const boost::system::error_code& ec) {
    if (ended_) return;
    if (ec) return End(Status::Unavailable("cannot connect to the peer: " + ec.message()), 0);
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    Arm(client_->options_.idle_timeout);
    asio::async_write(socket_, asio::buffer(request_), [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
      self->OnWritten(ec);
    });
  }

  void OnWritten(const boost::system::error_code& ec) {
    if (ended_) return;
    if (ec) return End(Status::Unavailable("cannot send to the peer: " + ec.message()), 0);
    request_.clear();
    request_.shrink_to_fit();
    Read();
  }

  void Read() {
    socket_.async_read_some(asio::buffer(buffer_), [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
      self->OnRead(ec, n);
    });
  }

  void OnRead(const boost::system::error_code& ec, size_t n) {
    if (ended_) return;
    if (n > 0) {
      Arm(client_->options_.idle_timeout);
      std::vector<std::string> events;
      Status st = reader_.Feed(std::string_view(buffer_.data(), n), &events);
      if (!status_reported_ && reader_.headers_done()) {
        status_reported_ = true;
        handler_->OnStatus(reader_.status());
      }
      if (!events.empty() && reader_.status() == 200) handler_->OnEvents(std::move(events));
      if (!st.ok()) return End(Status::Unavailable(st.message()), reader_.status());
      if (reader_.ended()) return Finish();
    }
    if (ec) {
      if (ec == asio::error::eof && reader_.CloseComplete()) return Finish();
      return End(Status::Unavailable("the peer's stream broke: " + ec.message()), reader_.status());
    }
    Read();
  }

  // The response is complete.
  void Finish() {
    if (reader_.status() == 200) return End(Status::Ok(), 200);
    End(Status::Unavailable("the peer answered " + std::to_string(reader_.status())), reader_.status());
  }

  void End(const Status& why, int http_status) {
    if (ended_) return;
    ended_ = true;
    ++timer_generation_;
    boost::system::error_code ignored;
    timer_.cancel();
    resolver_.cancel();
    socket_.close(ignored);
    handler_->OnClosed(why, http_status, reader_.error_body());
    handler_.reset();
    client_->Forget(id_);
  }

  ForwardClient* const client_;
  const uint64_t id_;
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::socket socket_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  uint64_t timer_generation_ = 0;
  std::string request_;
  std::shared_ptr<ForwardStreamHandler> handler_;
  SseResponseReader reader_;
  std::array<char, 16384> buffer_{};
  bool ended_ = false;
  bool status_reported_ = false;
};

ForwardClient::ForwardClient(ForwardClientOptions options)
    : options_(options), work_(asio::make_work_guard(io_)) {
  for (int i = 0; i < std::max(1, options_.threads); ++i) threads_.emplace_back([this] { io_.run(); });
}

ForwardClient::~ForwardClient() { Stop(); }

uint64_t ForwardClient::Open(const PeerAddress& peer, std::string request, std::shared_ptr<ForwardStreamHandler> handler) {
  std::shared_ptr<Stream> stream;
  uint64_t id = 0;
  bool stopped = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = next_id_++;
    stopped = stopped_;
    if (!stopped) {
      stream = std::make_shared<Stream>(this, id, std::move(request), handler);
      streams_[id] = stream;
    }
  }
  if (stopped) {
    handler->OnClosed(Status::Unavailable("the forwarding client is stopped"), 0, "");
    return id;
  }
  stream->Start(peer);
  return id;
}

void ForwardClient::Close(uint64_t id) {
  std::shared_ptr<Stream> stream;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    stream = it->second.lock();
  }
  if (stream) stream->Close();
}

void ForwardClient::Forget(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_.erase(id);
}

size_t ForwardClient::num_open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_.size();
}

void ForwardClient::Stop() {
  std::vector<std::shared_ptr<Stream>> open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_ && threads_.empty()) return;
    stopped_ = true;
    for (auto& [id, weak] : streams_) {
      if (auto s = weak.lock()) open.push_back(std::move(s));
    }
  }
  for (auto& s : open) s->Close();
  work_.reset();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

}  // namespace hearth::daemon
