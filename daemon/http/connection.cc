#include "daemon/http/connection.h"

#include <strings.h>

#include <algorithm>
#include <utility>

#include "daemon/http/stream_waker.h"

namespace hearth::http {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// A client may pipeline this much input while a request is being answered; then reading pauses.
constexpr size_t kMaxBufferedWhileBusy = 64 * 1024;
// After a final response, unread input is drained this long so the answer is not lost to a RST.
constexpr auto kLinger = 2s;
constexpr auto kMinBackoff = 5ms;
constexpr auto kMaxBackoff = 100ms;
// A stream whose provider took its waker is called when its data arrives: the timer only has to
// let it write a keep-alive now and then.
constexpr auto kMaxBackoffWakeable = 2000ms;

const char* ErrorCode(int status) {
  switch (status) {
    case 408: return "request_timeout";
    case 411: return "length_required";
    case 413: return "payload_too_large";
    case 414: return "uri_too_long";
    case 431: return "headers_too_large";
    default: return "";
  }
}

ParserLimits LimitsFor(const ConnectionContext& context) {
  ParserLimits limits;
  limits.max_target_bytes = context.options->max_target_bytes;
  limits.max_header_lines = context.options->max_header_lines;
  limits.max_header_bytes = context.options->max_header_bytes;
  limits.max_body_bytes = context.router->payload_max_length();
  return limits;
}

}  // namespace

// A chunked response in progress. The provider runs on the handler pool, one call at a time;
// everything else is strand-only unless marked.
struct Connection::Stream {
  explicit Stream(const asio::any_io_executor& executor) : timer(executor) {}

  std::shared_ptr<Request> req;  // kept alive for providers that refer to it
  std::shared_ptr<Response> res;
  Framing framing = Framing::kChunked;
  size_t offset = 0;             // payload bytes written so far (the provider's thread)
  bool done = false;             // sink.done() was called (the provider's thread, read after it returns)
  bool in_call = false;
  bool ended = false;            // the releaser has been scheduled
  bool waiting_drain = false;    // not pumped until the outgoing buffer drains
  bool finishing = false;        // done; the last bytes are being written
  bool sleeping = false;         // waiting on `timer` for the next provider call
  bool woken = false;            // the waker was called during a provider call
  bool wakeable = false;         // its provider took the waker (sticky)
  std::chrono::milliseconds backoff = kMinBackoff;
  asio::steady_timer timer;
  std::atomic<bool> gone{false};  // the client went away or the connection closed (any thread)
  std::mutex mu;
  std::condition_variable drained;  // a sink.write blocked on a full buffer waits here
};

Connection::Connection(asio::ip::tcp::socket socket, ConnectionContext* context, std::string ip, bool admitted,
                       std::string refusal)
    : context_(context),
      socket_(std::move(socket)),
      strand_(socket_.get_executor()),
      ip_(std::move(ip)),
      admitted_(admitted),
      refusal_(std::move(refusal)),
      timer_(strand_),
      write_timer_(strand_),
      parser_(LimitsFor(*context)) {
  boost::system::error_code ec;
  auto local = socket_.local_endpoint(ec);
  if (!ec) {
    local_addr_ = local.address().to_string();
    local_port_ = local.port();
  }
  auto remote = socket_.remote_endpoint(ec);
  if (!ec) remote_port_ = remote.port();
}

Connection::~Connection() {
  if (admitted_) context_->table->Release(ip_);
  if (table_id_ != 0) context_->table->Forget(table_id_);
}

void Connection::Start() {
  asio::post(strand_, [self = shared_from_this()] {
    self->table_id_ = self->context_->table->Track(self);
    if (self->context_->stopping) return self->CloseNow();
    if (!self->admitted_) {
      Response res;
      res.status = 503;
      res.set_header("Retry-After", "1");
      res.set_content(self->refusal_, "application/json");
      self->context_->router->HandleError(Request{}, res);
      self->busy_ = Busy::kResponding;
      self->keep_alive_ = false;
      self->discarding_ = true;
      self->Send(ResponseHead(res, Framing::kContentLength, false) + res.body, false);
      return;
    }
    self->ArmTimer(Timer::kHead, self->context_->options->header_deadline);
    self->StartRead();
  });
}

void Connection::Close() {
  asio::post(strand_, [self = shared_from_this()] { self->CloseNow(); });
}

// --- Reading and parsing ----------------------------------------------------

void Connection::StartRead() {
  if (reading_ || closed_ || read_closed_) return;
  if (!discarding_ && busy_ != Busy::kNo && parser_.buffered_bytes() > kMaxBufferedWhileBusy) return;
  reading_ = true;
  socket_.async_read_some(asio::buffer(read_buffer_),
                          [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
                            self->OnRead(ec, n);
                          });
}

void Connection::OnRead(const boost::system::error_code& ec, size_t n) {
  reading_ = false;
  if (closed_) return;
  if (ec) {
    read_closed_ = true;
    if (handling_client_gone_) handling_client_gone_->store(true);
    if (discarding_ || busy_ == Busy::kNo) return CloseNow();
    if (busy_ == Busy::kStreaming) return ClientGone();
    return;  // answer what was asked (and anything pipelined before the EOF), then close
  }
  if (discarding_) return StartRead();
  parser_.Feed(std::string_view(read_buffer_.data(), n));
  if (busy_ == Busy::kNo) return ProcessNext();
  StartRead();
}

void Connection::ProcessNext() {
  ParsedRequest parsed;
  ParseError error;
  switch (parser_.Next(&parsed, &error)) {
    case RequestParser::Result::kRequest:
      ArmTimer(Timer::kNone, {});
      return OnRequest(std::move(parsed));
    case RequestParser::Result::kError:
      ArmTimer(Timer::kNone, {});
      return RespondError(error.status, error.message, ErrorCode(error.status));
    case RequestParser::Result::kNeedMore:
      break;
  }
  if (read_closed_) return CloseNow();
  UpdateReadTimer();
  if (parser_.awaiting_continue() && !continue_sent_) {
    continue_sent_ = true;
    Send("HTTP/1.1 100 Continue\r\n\r\n", false);
  }
  StartRead();
}

// --- Deadlines --------------------------------------------------------------

void Connection::ArmTimer(Timer kind, std::chrono::milliseconds after) {
  timer_kind_ = kind;
  const uint64_t generation = ++timer_generation_;
  if (kind == Timer::kNone) {
    timer_.cancel();
    return;
  }
  timer_.expires_after(after);
  timer_.async_wait([self = shared_from_this(), generation](const boost::system::error_code& ec) {
    if (!ec) self->OnTimer(generation);
  });
}

void Connection::UpdateReadTimer() {
  // The head deadline runs from the first byte of a request (or from accept) and is never
  // extended by later bytes: that is what cuts a slowloris client.
  const auto& options = *context_->options;
  switch (parser_.phase()) {
    case RequestParser::Phase::kIdle:
      if (timer_kind_ == Timer::kNone) ArmTimer(Timer::kIdle, options.keep_alive_idle);
      break;
    case RequestParser::Phase::kHead:
      if (timer_kind_ != Timer::kHead) ArmTimer(Timer::kHead, options.header_deadline);
      break;
    case RequestParser::Phase::kBody:
      if (timer_kind_ != Timer::kBody) ArmTimer(Timer::kBody, options.body_deadline);
      break;
  }
}

void Connection::OnTimer(uint64_t generation) {
  if (generation != timer_generation_ || closed_) return;
  switch (timer_kind_) {
    case Timer::kHead:
      if (busy_ == Busy::kNo) return RespondError(408, "request head not received in time", ErrorCode(408));
      break;
    case Timer::kBody:
      if (busy_ == Busy::kNo) return RespondError(408, "request body not received in time", ErrorCode(408));
      break;
    case Timer::kIdle:
    case Timer::kLinger:
      return CloseNow();
    case Timer::kNone:
      break;
  }
}

// --- Answering ----------------------------------------------------------------

void Connection::OnRequest(ParsedRequest parsed) {
  auto req = std::make_shared<Request>();
  req->method = std::move(parsed.method);
  req->version = std::move(parsed.version);
  req->headers = std::move(parsed.headers);
  req->body = std::move(parsed.body);
  req->target = std::move(parsed.target);
  const size_t query = req->target.find('?');
  req->path = httplib::detail::decode_url(req->target.substr(0, query), false);
  if (query != std::string::npos) httplib::detail::parse_query_text(req->target.substr(query + 1), req->params);
  req->remote_addr = ip_;
  req->remote_port = remote_port_;
  req->local_addr = local_addr_;
  req->local_port = local_port_;
  keep_alive_ = parsed.keep_alive && !context_->stopping;
  busy_ = Busy::kHandling;
  handling_client_gone_ = std::make_shared<std::atomic<bool>>(read_closed_);
  req->progress = [gone = handling_client_gone_](uint64_t, uint64_t) { return !gone->load(); };
  const Router& router = *context_->router;
  if (router.RunsInline(req->method, req->path)) {
    auto res = std::make_shared<Response>();
    router.Dispatch(*req, *res);
    return OnResponse(std::move(req), std::move(res));
  }
  asio::post(*context_->handlers, [self = shared_from_this(), req] {
    auto res = std::make_shared<Response>();
    self->context_->router->Dispatch(*req, *res);
    asio::post(self->strand_, [self, req, res] { self->OnResponse(req, res); });
  });
  StartRead();  // to notice a client that goes away; bounded by kMaxBufferedWhileBusy
}

void Connection::OnResponse(std::shared_ptr<Request> req, std::shared_ptr<Response> res) {
  if (closed_) return;  // dropping `res` runs its releaser, if any, with false
  if (strcasecmp(res->get_header_value("Connection").c_str(), "close") == 0 || context_->stopping) {
    keep_alive_ = false;
  }
  const bool head_only = req->method == "HEAD";
  if (res->content_provider_) {
    const Framing framing = req->version == "HTTP/1.0" ? Framing::kUntilClose : Framing::kChunked;
    if (framing == Framing::kUntilClose) keep_alive_ = false;
    if (!head_only) return StartStream(std::move(req), std::move(res), framing);
    busy_ = Busy::kResponding;
    return Send(ResponseHead(*res, framing, keep_alive_), false);
  }
  busy_ = Busy::kResponding;
  std::string data = ResponseHead(*res, Framing::kContentLength, keep_alive_);
  if (!head_only) data += res->body;
  Send(std::move(data), false);
}

void Connection::RespondError(int status, const std::string& message, const std::string& code) {
  Request req;
  Response res;
  res.status = status;
  res.set_content(ErrorJson(message, "invalid_request_error", code), "application/json");
  context_->router->HandleError(req, res);
  busy_ = Busy::kResponding;
  keep_alive_ = false;
  discarding_ = true;  // the rest of the input is not parsed
  Send(ResponseHead(res, Framing::kContentLength, false) + res.body, false);
}

// Called when a response has been written entirely.
void Connection::FinishResponse() {
  busy_ = Busy::kNo;
  stream_.reset();
  handling_client_gone_.reset();
  if (!keep_alive_) return CloseGracefully();
  continue_sent_ = false;
  ProcessNext();
}

void Connection::CloseGracefully() {
  if (closed_) return;
  if (read_closed_) return CloseNow();
  discarding_ = true;
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  ArmTimer(Timer::kLinger, std::chrono::duration_cast<std::chrono::milliseconds>(kLinger));
  StartRead();
}

void Connection::CloseNow() {
  if (closed_) return;
  closed_ = true;
  if (handling_client_gone_) handling_client_gone_->store(true);
  ArmTimer(Timer::kNone, {});
  write_timer_.cancel();
  boost::system::error_code ec;
  socket_.close(ec);
  if (stream_) {
    stream_->gone = true;
    stream_->timer.cancel();
    stream_->drained.notify_all();
    if (!stream_->in_call) EndStream(false);
  }
}

// --- Writing ------------------------------------------------------------------

void Connection::Send(std::string data, bool counted) {
  if (!counted) unsent_ += data.size();
  if (closed_) {
    unsent_ -= data.size();
    return;
  }
  out_ += data;
  if (!write_in_flight_) StartWrite();
}

void Connection::StartWrite() {
  writing_.swap(out_);
  out_.clear();
  write_in_flight_ = true;
  write_timer_.expires_after(context_->options->write_stall);
  write_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec && self->write_in_flight_) self->CloseNow();
  });
  asio::async_write(socket_, asio::buffer(writing_),
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
                      self->OnWrite(ec, n);
                    });
}

void Connection::OnWrite(const boost::system::error_code& ec, size_t) {
  write_in_flight_ = false;
  write_timer_.cancel();
  unsent_ -= writing_.size();
  writing_.clear();
  if (closed_) return;
  if (ec) return busy_ == Busy::kStreaming ? ClientGone() : CloseNow();
  if (stream_ && unsent_ <= context_->options->stream_buffer_bytes) {
    {
      std::lock_guard<std::mutex> lock(stream_->mu);
    }
    stream_->drained.notify_all();
    if (stream_->waiting_drain) {
      stream_->waiting_drain = false;
      PumpStream();
    }
  }
  if (!out_.empty()) return StartWrite();
  // Everything queued is on the wire.
  if (busy_ == Busy::kResponding) return FinishResponse();
  if (busy_ == Busy::kStreaming && stream_ && stream_->finishing) {
    EndStream(true);
    if (stream_->framing == Framing::kUntilClose) keep_alive_ = false;
    return FinishResponse();
  }
}

// --- Streaming ----------------------------------------------------------------

void Connection::StartStream(std::shared_ptr<Request> req, std::shared_ptr<Response> res, Framing framing) {
  busy_ = Busy::kStreaming;
  stream_ = std::make_shared<Stream>(strand_);
  stream_->req = std::move(req);
  stream_->res = std::move(res);
  stream_->framing = framing;
  Send(ResponseHead(*stream_->res, framing, keep_alive_), false);
  PumpStream();
  StartRead();
}

void Connection::PumpStream() {
  const std::shared_ptr<Stream>& s = stream_;
  if (!s || s->ended || s->in_call || s->finishing) return;
  if (closed_ || s->gone) return EndStream(false);
  if (unsent_ > context_->options->stream_buffer_bytes) {
    s->waiting_drain = true;
    return;
  }
  s->in_call = true;
  context_->providers->Push([self = shared_from_this(), s] { self->CallProvider(s); });
}

namespace {
thread_local const std::function<void()>* current_waker = nullptr;
thread_local bool waker_taken = false;
}  // namespace

std::function<void()> CurrentStreamWaker() {
  if (!current_waker) return std::function<void()>();
  waker_taken = true;
  return *current_waker;
}

void Connection::Wake(const std::shared_ptr<Stream>& s) {
  if (stream_ != s || s->ended || s->finishing) return;
  if (s->in_call) {
    s->woken = true;  // OnProviderReturned calls again instead of sleeping
    return;
  }
  if (!s->sleeping) return;
  s->sleeping = false;
  s->backoff = kMinBackoff;
  s->timer.cancel();
  PumpStream();
}

void Connection::CallProvider(std::shared_ptr<Stream> s) {
  auto self = shared_from_this();
  const std::function<void()> waker = [weak = weak_from_this(), ws = std::weak_ptr<Stream>(s)] {
    std::shared_ptr<Connection> c = weak.lock();
    std::shared_ptr<Stream> stream = ws.lock();
    if (c && stream) asio::post(c->strand_, [c, stream] { c->Wake(stream); });
  };
  current_waker = &waker;
  waker_taken = false;
  struct Reset {
    ~Reset() { current_waker = nullptr; }
  } reset;
  const size_t limit = context_->options->stream_buffer_bytes;
  bool wrote = false;
  httplib::DataSink sink;
  sink.is_writable = [&s] { return !s->gone; };
  sink.write = [&](const char* data, size_t n) {
    if (s->gone || s->done) return false;
    if (n == 0) return true;
    {
      // A provider that writes a lot in one call waits for its client to catch up.
      std::unique_lock<std::mutex> lock(s->mu);
      while (unsent_ > limit && !s->gone) s->drained.wait_for(lock, 100ms);
    }
    if (s->gone) return false;
    std::string frame;
    if (s->framing == Framing::kChunked) {
      AppendChunk(&frame, std::string_view(data, n));
    } else {
      frame.assign(data, n);
    }
    s->offset += n;
    wrote = true;
    unsent_ += frame.size();
    asio::post(strand_, [self, frame = std::move(frame)]() mutable { self->Send(std::move(frame), true); });
    return true;
  };
  sink.done = [&] {
    if (s->done) return;
    s->done = true;
    if (s->framing != Framing::kChunked) return;
    unsent_ += kLastChunk.size();
    asio::post(strand_, [self] { self->Send(std::string(kLastChunk), true); });
  };
  bool ok = false;
  try {
    ok = s->res->content_provider_(s->offset, 0, sink);
  } catch (...) {
    ok = false;  // a provider that throws ends its stream like one that returns false
  }
  // Posted after the sink's writes, so the strand sees them first.
  const bool wakeable = waker_taken;
  asio::post(strand_, [self, ok, wrote, wakeable] { self->OnProviderReturned(ok, wrote, wakeable); });
}

void Connection::OnProviderReturned(bool ok, bool wrote, bool wakeable) {
  const std::shared_ptr<Stream> s = stream_;
  if (!s) return;
  s->in_call = false;
  if (closed_ || s->gone || !ok) {
    EndStream(false);
    return CloseNow();
  }
  if (s->done) {
    s->finishing = true;
    if (!write_in_flight_ && out_.empty()) {
      EndStream(true);
      if (s->framing == Framing::kUntilClose) keep_alive_ = false;
      FinishResponse();
    }
    return;  // OnWrite finishes once the last bytes are out
  }
  if (wrote || s->woken) {
    s->woken = false;
    s->backoff = kMinBackoff;
    return PumpStream();
  }
  // Nothing to say yet: ask again later, less often the longer the stream stays idle (or at
  // once when its waker is called).
  s->sleeping = true;
  s->timer.expires_after(s->backoff);
  s->wakeable = s->wakeable || wakeable;
  s->backoff = std::min<std::chrono::milliseconds>(s->backoff * 2, s->wakeable ? kMaxBackoffWakeable : kMaxBackoff);
  s->timer.async_wait([self = shared_from_this(), s](const boost::system::error_code& ec) {
    if (ec || !s->sleeping) return;
    s->sleeping = false;
    self->PumpStream();
  });
}

void Connection::EndStream(bool success) {
  const std::shared_ptr<Stream> s = stream_;
  if (!s || s->ended) return;
  s->ended = true;
  s->timer.cancel();
  // The releaser runs once: here on the handler pool, or (if the pool is gone) from the
  // Response's destructor, which sees the same success flag.
  s->res->content_provider_success_ = success;
  asio::post(*context_->handlers, [res = s->res, success] {
    auto releaser = std::exchange(res->content_provider_resource_releaser_, nullptr);
    if (releaser) releaser(success);
  });
}

void Connection::ClientGone() {
  if (stream_) stream_->gone = true;
  CloseNow();
}

}  // namespace hearth::http
