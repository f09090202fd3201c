// Reads a peer's HTTP/1.1 response to a forwarded request as its bytes arrive: the status line,
// the headers, the body (chunked, Content-Length or up to the close), and in a 200's body the
// server-sent events' data, one string per event. Pure: no I/O. A peer is untrusted: every
// size is bounded and anything malformed is an error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hearth::daemon {

class SseResponseReader {
 public:
  // Appends the data of each complete event in `bytes` to `events`. Corruption for a response
  // that is not well formed; after an error the reader takes nothing more.
  Status Feed(std::string_view bytes, std::vector<std::string>* events);
  // The peer closed the connection: true when the body was complete (a body read up to the
  // close always is).
  bool CloseComplete();

  int status() const { return status_; }  // 0 until the status line arrived
  bool headers_done() const { return phase_ > Phase::kHeaders; }
  // The body has ended (its last chunk, or all its Content-Length), or its stream sent [DONE].
  bool ended() const { return phase_ == Phase::kDone || done_event_; }
  // A response other than 200: its body as far as it came (at most 64 KiB), for the error.
  const std::string& error_body() const { return error_body_; }

 private:
  enum class Phase { kStatus, kHeaders, kChunkSize, kChunkData, kChunkEnd, kTrailers, kLength, kUntilClose, kDone, kFailed };

  Status Fail(const std::string& why);
  Status HeaderLine(std::string_view line);
  void Body(std::string_view data, std::vector<std::string>* events);
  Status SseLine(std::string_view line, std::vector<std::string>* events);

  Phase phase_ = Phase::kStatus;
  std::string line_;  // a line not complete yet (status, header, chunk size, trailer)
  int status_ = 0;
  bool chunked_ = false;
  int64_t length_ = -1;      // Content-Length, or -1
  uint64_t remaining_ = 0;   // of the current chunk or of the Content-Length body
  size_t header_bytes_ = 0;  // so far
  std::string sse_line_;     // a body line not complete yet
  std::string data_;         // the data of the event being read
  bool has_data_ = false;
  bool done_event_ = false;
  std::string error_body_;
};

}  // namespace hearth::daemon
