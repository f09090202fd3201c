#include "daemon/routing/sse_reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace hearth::daemon {
namespace {

constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kMaxLine = 1 << 20;  // an event's data line
constexpr size_t kMaxErrorBody = 64 * 1024;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

Status SseResponseReader::Fail(const std::string& why) {
  phase_ = Phase::kFailed;
  return Status::Corruption("peer's response: " + why);
}

Status SseResponseReader::HeaderLine(std::string_view line) {
  if (phase_ == Phase::kStatus) {
    // "HTTP/1.1 200 OK"
    if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || line[8] != ' ') return Fail("no status line");
    int code = 0;
    auto [p, ec] = std::from_chars(line.data() + 9, line.data() + 12, code);
    if (ec != std::errc() || p != line.data() + 12 || code < 100 || code > 599) return Fail("bad status code");
    status_ = code;
    phase_ = Phase::kHeaders;
    return Status::Ok();
  }
  if (!line.empty()) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return Fail("bad header line");
    const std::string name = Lower(Trim(line.substr(0, colon)));
    const std::string value = Lower(Trim(line.substr(colon + 1)));
    if (name == "transfer-encoding") {
      if (value != "chunked") return Fail("transfer encoding other than chunked");
      chunked_ = true;
    } else if (name == "content-length") {
      uint64_t n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || p != value.data() + value.size() || n > (uint64_t{1} << 40)) {
        return Fail("bad Content-Length");
      }
      length_ = static_cast<int64_t>(n);
    }
    return Status::Ok();
  }
  // The blank line: the body follows.
  if (chunked_) {
    phase_ = Phase::kChunkSize;
  } else if (length_ >= 0) {
    remaining_ = static_cast<uint64_t>(length_);
    phase_ = remaining_ == 0 ? Phase::kDone : Phase::kLength;
  } else {
    phase_ = Phase::kUntilClose;
  }
  return Status::Ok();
}

Status SseResponseReader::Feed(std::string_view bytes, std::vector<std::string>* events) {
  if (phase_ == Phase::kFailed) return Status::Corruption("peer's response: already failed");
  while (!bytes.empty()) {
    switch (phase_) {
      case Phase::kStatus:
      case Phase::kHeaders:
      case Phase::kChunkSize:
      case Phase::kChunkEnd:
      case Phase::kTrailers: {
        const size_t nl = bytes.find('\n');
        const std::string_view part = bytes.substr(0, nl == std::string_view::npos ? bytes.size() : nl);
        line_.append(part);
        if (phase_ <= Phase::kHeaders) {
          header_bytes_ += part.size() + 1;
          if (header_bytes_ > kMaxHeaderBytes) return Fail("headers too long");
        } else if (line_.size() > 1024) {
          return Fail("chunk line too long");
        }
        if (nl == std::string_view::npos) return Status::Ok();
        bytes.remove_prefix(nl + 1);
        std::string line = std::move(line_);
        line_.clear();
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (phase_ <= Phase::kHeaders) {
          HEARTH_RETURN_IF_ERROR(HeaderLine(line));
        } else if (phase_ == Phase::kChunkSize) {
          const std::string_view size = Trim(std::string_view(line).substr(0, line.find(';')));
          uint64_t n = 0;
          auto [p, ec] = std::from_chars(size.data(), size.data() + size.size(), n, 16);
          if (size.empty() || size.size() > 12 || ec != std::errc() || p != size.data() + size.size()) {
            return Fail("bad chunk size");
          }
          remaining_ = n;
          phase_ = n == 0 ? Phase::kTrailers : Phase::kChunkData;
        } else if (phase_ == Phase::kChunkEnd) {
          if (!line.empty()) return Fail("chunk not followed by CRLF");
          phase_ = Phase::kChunkSize;
        } else if (line.empty()) {  // kTrailers: the blank line ends the body
          phase_ = Phase::kDone;
        }
        break;
      }
      case Phase::kChunkData:
      case Phase::kLength: {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, bytes.size()));
        Body(bytes.substr(0, n), events);
        if (phase_ == Phase::kFailed) return Status::Corruption("peer's response: bad event stream");
        bytes.remove_prefix(n);
        remaining_ -= n;
        if (remaining_ == 0) phase_ = phase_ == Phase::kChunkData ? Phase::kChunkEnd : Phase::kDone;
        break;
      }
      case Phase::kUntilClose:
        Body(bytes, events);
        bytes = {};
        break;
      case Phase::kDone:
        return Fail("bytes after the end of the body");
      case Phase::kFailed:
        return Status::Corruption("peer's response: already failed");
    }
    if (phase_ == Phase::kFailed) return Status::Corruption("peer's response: bad event stream");
  }
  return Status::Ok();
}

bool SseResponseReader::CloseComplete() {
  if (phase_ == Phase::kUntilClose) phase_ = Phase::kDone;
  return phase_ == Phase::kDone;
}

void SseResponseReader::Body(std::string_view data, std::vector<std::string>* events) {
  if (status_ != 200) {
    error_body_.append(data.substr(0, kMaxErrorBody - std::min(kMaxErrorBody, error_body_.size())));
    return;
  }
  while (!data.empty()) {
    const size_t nl = data.find('\n');
    sse_line_.append(data.substr(0, nl == std::string_view::npos ? data.size() : nl));
    if (sse_line_.size() > kMaxLine) {
      phase_ = Phase::kFailed;
      return;
    }
    if (nl == std::string_view::npos) return;
    data.remove_prefix(nl + 1);
    std::string line = std::move(sse_line_);
    sse_line_.clear();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!SseLine(line, events).ok()) {
      phase_ = Phase::kFailed;
      return;
    }
  }
}

Status SseResponseReader::SseLine(std::string_view line, std::vector<std::string>* events) {
  if (line.empty()) {  // dispatch
    if (has_data_) {
      if (data_ == "[DONE]") {
        done_event_ = true;
      } else {
        events->push_back(std::move(data_));
      }
    }
    data_.clear();
    has_data_ = false;
    return Status::Ok();
  }
  if (line.front() == ':') return Status::Ok();  // a comment: keep-alive
  const size_t colon = line.find(':');
  const std::string_view field = line.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  }
  return Status::Ok();  // "id", "event", "retry" and unknown fields are ignored
}

}  // namespace hearth::daemon
