// One client connection: reads requests through the parser, answers them in order (inline on
// the I/O thread or on the handler pool), streams chunked responses, and enforces the head,
// body, keep-alive and write deadlines. Every member is touched only on the connection's strand
// (the socket's executor), except where noted.
#pragma once

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
// clang-format off
#include <boost/asio.hpp>
// clang-format on
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "daemon/http/connection_table.h"
#include "daemon/http/http_options.h"
#include "daemon/http/http_parser.h"
#include "daemon/http/provider_queue.h"
#include "daemon/http/response_head.h"
#include "daemon/http/router.h"

namespace hearth::http {

// What all connections of one server share; outlives them.
struct ConnectionContext {
  const Router* router = nullptr;
  const HttpServerOptions* options = nullptr;
  boost::asio::thread_pool* handlers = nullptr;
  ProviderQueue* providers = nullptr;  // stream provider calls, on `handlers`
  ConnectionTable* table = nullptr;
  std::atomic<bool> stopping{false};
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `admitted`: the connection holds a slot in the table for `ip`; otherwise it only answers
  // `refusal` (a 503) and closes.
  Connection(boost::asio::ip::tcp::socket socket, ConnectionContext* context, std::string ip, bool admitted,
             std::string refusal);
  ~Connection();

  void Start();
  // Closes the socket at once (any thread).
  void Close();

 private:
  struct Stream;
  enum class Busy { kNo, kHandling, kResponding, kStreaming };
  enum class Timer { kNone, kHead, kBody, kIdle, kLinger };

  void StartRead();
  void OnRead(const boost::system::error_code& ec, size_t n);
  void ProcessNext();
  void OnRequest(ParsedRequest parsed);
  void OnResponse(std::shared_ptr<Request> req, std::shared_ptr<Response> res);
  void RespondError(int status, const std::string& message, const std::string& code);
  void FinishResponse();
  void CloseGracefully();
  void CloseNow();

  void ArmTimer(Timer kind, std::chrono::milliseconds after);
  void UpdateReadTimer();
  void OnTimer(uint64_t generation);

  void Send(std::string data, bool counted);
  void StartWrite();
  void OnWrite(const boost::system::error_code& ec, size_t n);

  void StartStream(std::shared_ptr<Request> req, std::shared_ptr<Response> res, Framing framing);
  void PumpStream();
  void CallProvider(std::shared_ptr<Stream> stream);  // on a handler-pool thread
  void Wake(const std::shared_ptr<Stream>& stream);   // its waker was called
  void OnProviderReturned(bool ok, bool wrote, bool wakeable);
  void EndStream(bool success);
  void ClientGone();

  // Constant after construction.
  ConnectionContext* const context_;
  boost::asio::ip::tcp::socket socket_;
  const boost::asio::any_io_executor strand_;
  const std::string ip_;
  const bool admitted_;
  const std::string refusal_;
  uint64_t table_id_ = 0;
  std::string local_addr_;
  int local_port_ = -1;
  int remote_port_ = -1;

  // Strand-only state.
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer write_timer_;
  Timer timer_kind_ = Timer::kNone;
  uint64_t timer_generation_ = 0;
  RequestParser parser_;
  std::array<char, 16 * 1024> read_buffer_;
  bool reading_ = false;
  bool read_closed_ = false;   // the client sent EOF or the read failed
  // Set (any thread reads it) when the client of the request being handled goes away: EOF or a
  // failed read while its handler runs, or the connection closed. Request::progress reports it
  // to the handler (ClientConnected in router.h).
  std::shared_ptr<std::atomic<bool>> handling_client_gone_;
  bool closed_ = false;
  bool discarding_ = false;    // lingering after a final response: input is thrown away
  bool continue_sent_ = false;
  Busy busy_ = Busy::kNo;
  bool keep_alive_ = true;     // of the response in progress
  std::string out_;            // queued, not yet handed to the socket
  std::string writing_;        // being written
  bool write_in_flight_ = false;
  std::shared_ptr<Stream> stream_;

  // Bytes handed to Send() (or posted to it by a stream's sink) and not yet written: any thread.
  std::atomic<size_t> unsent_{0};
};

}  // namespace hearth::http
