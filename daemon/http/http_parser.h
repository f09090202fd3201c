// Incremental HTTP/1.1 request parser: bytes in as they arrive, complete requests out in order.
// Pure (no I/O), so every rule about what a request may look like lives here and is unit-tested.
#pragma once

#include <httplib.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace hearth::http {

struct ParserLimits {
  size_t max_target_bytes = 8 * 1024;      // request target; longer: 414
  size_t max_header_lines = 100;           // more: 431
  size_t max_header_bytes = 32 * 1024;     // the whole header section; more: 431
  size_t max_body_bytes = 8 * 1024 * 1024; // Content-Length above: 413, before the body is read
};

struct ParsedRequest {
  std::string method;
  std::string target;   // as sent: path and query, not decoded
  std::string version;  // "HTTP/1.0" or "HTTP/1.1"
  httplib::Headers headers;
  std::string body;
  bool keep_alive = true;        // from the version and the Connection header
  bool expects_continue = false; // "Expect: 100-continue"
};

// A request the parser refuses: the status to answer with, and why. The connection closes after.
struct ParseError {
  int status = 400;
  std::string message;
};

class RequestParser {
 public:
  enum class Phase {
    kIdle,  // between requests: nothing of the next one buffered
    kHead,  // part of a request line or header section buffered
    kBody,  // head complete, waiting for body bytes
  };
  enum class Result { kNeedMore, kRequest, kError };

  explicit RequestParser(ParserLimits limits = {}) : limits_(limits) {}

  // Appends bytes; parsing happens in Next().
  void Feed(std::string_view bytes);

  // Parses what is buffered. kRequest: *request holds the next complete request. kError: *error
  // says why; the parser stays in error from then on. kNeedMore: feed more bytes.
  Result Next(ParsedRequest* request, ParseError* error);

  Phase phase() const;
  // Bytes fed and not yet consumed by a returned request.
  size_t buffered_bytes() const { return buffer_.size() - pos_ + current_.body.size(); }
  // The head announced "Expect: 100-continue" and the body has not all arrived.
  bool awaiting_continue() const { return state_ == State::kBody && current_.expects_continue; }
  const ParserLimits& limits() const { return limits_; }

 private:
  enum class State { kRequestLine, kHeaders, kBody, kFailed };

  Result ParseRequestLine(std::string_view line, ParseError* error);
  Result ParseHeaderLine(std::string_view line, ParseError* error);
  Result FinishHead(ParseError* error);
  Result Fail(int status, std::string message, ParseError* error);
  void Compact();

  const ParserLimits limits_;
  std::string buffer_;
  size_t pos_ = 0;           // first unconsumed byte of buffer_
  size_t scan_ = 0;          // where the search for the next '\n' resumes
  State state_ = State::kRequestLine;
  ParsedRequest current_;    // the request being assembled
  size_t header_lines_ = 0;
  size_t header_bytes_ = 0;
  size_t body_expected_ = 0;
  ParseError failure_;
};

}  // namespace hearth::http
