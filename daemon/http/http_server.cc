#include "daemon/http/http_server.h"

#include <sys/resource.h>

#include <chrono>

#include "daemon/http/response_head.h"

namespace hearth::http {
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Each connection is a descriptor: the default soft limit (often 1024) would cap the server
// far below max_connections.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace

HttpServer::HttpServer(HttpServerOptions options)
    : options_(options),
      table_(options.max_connections, options.max_connections_per_ip),
      acceptor_(asio::make_strand(io_)),
      accept_retry_(acceptor_.get_executor()) {
  context_.router = &router_;
  context_.options = &options_;
  context_.table = &table_;
}

HttpServer::~HttpServer() { Stop(); }

StatusOr<int> HttpServer::Bind(const std::string& host, int port) {
  if (bound_) return Status::FailedPrecondition("HTTP server already bound");
  const std::string where = host + ":" + std::to_string(port);
  boost::system::error_code ec;
  tcp::endpoint endpoint;
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, static_cast<unsigned short>(port));
  } else {
    tcp::resolver resolver(io_);
    auto results = resolver.resolve(host, std::to_string(port), ec);
    if (ec || results.empty()) return Status::InvalidArgument("cannot resolve " + host + ": " + ec.message());
    endpoint = results.begin()->endpoint();
  }
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (ec) {
    acceptor_.close();
    return Status::Unavailable("cannot listen on " + where + ": " + ec.message());
  }
  where_ = where;
  bound_ = true;
  return static_cast<int>(acceptor_.local_endpoint().port());
}

Status HttpServer::Serve() {
  if (!bound_) return Status::FailedPrecondition("HTTP server not bound");
  if (started_) return Status::FailedPrecondition("HTTP server already started");
  RaiseFileLimit();
  boost::system::error_code ec;
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("cannot listen on " + where_ + ": " + ec.message());
  handlers_ = std::make_unique<asio::thread_pool>(static_cast<size_t>(std::max(1, options_.handler_threads)));
  context_.handlers = handlers_.get();
  providers_ = std::make_unique<ProviderQueue>(handlers_.get(), static_cast<size_t>(std::max(1, options_.handler_threads)));
  context_.providers = providers_.get();
  work_.emplace(io_.get_executor());
  asio::post(acceptor_.get_executor(), [this] { Accept(); });
  for (int i = 0; i < std::max(1, options_.io_threads); ++i) io_threads_.emplace_back([this] { io_.run(); });
  started_ = true;
  return Status::Ok();
}

StatusOr<int> HttpServer::Start(const std::string& host, int port) {
  if (started_) return Status::FailedPrecondition("HTTP server already started");
  HEARTH_ASSIGN_OR_RETURN(int bound, Bind(host, port));
  HEARTH_RETURN_IF_ERROR(Serve());
  return bound;
}

void HttpServer::Accept() {
  acceptor_.async_accept(asio::make_strand(io_), [this](const boost::system::error_code& ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void HttpServer::OnAccept(const boost::system::error_code& ec, tcp::socket socket) {
  if (context_.stopping || !acceptor_.is_open()) return;
  if (ec) {
    // Out of descriptors (EMFILE) and the like: retry shortly instead of spinning.
    accept_retry_.expires_after(std::chrono::milliseconds(50));
    accept_retry_.async_wait([this](const boost::system::error_code& e) {
      if (!e && !context_.stopping) Accept();
    });
    return;
  }
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  const tcp::endpoint remote = socket.remote_endpoint(ignored);
  if (ignored) return Accept();  // the client is already gone
  const std::string ip = remote.address().to_string();
  std::string why;
  const bool admitted = table_.TryAdmit(ip, &why);
  std::string refusal = admitted ? "" : ErrorJson(why, "server_error", "too_many_connections");
  std::make_shared<Connection>(std::move(socket), &context_, ip, admitted, std::move(refusal))->Start();
  Accept();
}

void HttpServer::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  context_.stopping = true;
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
    accept_retry_.cancel();
  });
  for (const auto& connection : table_.Live()) connection->Close();
  // Connections end once their pending operations finish; a handler still blocked keeps its
  // connection object, not its socket, so this wait is short.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (table_.num_tracked() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  work_.reset();
  io_.stop();
  for (std::thread& t : io_threads_) t.join();
  io_threads_.clear();
  handlers_->join();
  // What handlers posted back after the I/O threads left: runs against closed connections,
  // which only finish their streams.
  io_.restart();
  io_.run_for(std::chrono::seconds(2));
}

}  // namespace hearth::http
