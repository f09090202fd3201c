#include "daemon/http/http_parser.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace hearth::http {
namespace {

bool IsTchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return IsTchar(static_cast<unsigned char>(c)); });
}

// Field values: visible ASCII, space, tab, and obs-text; never CR, LF, NUL or other controls.
bool IsFieldValue(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
  });
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// True when any Connection header lists `token` (comma-separated, any case).
bool ConnectionHas(const httplib::Headers& headers, std::string_view token) {
  auto [begin, end] = headers.equal_range("Connection");
  for (auto it = begin; it != end; ++it) {
    std::string_view rest = it->second;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      if (EqualsIgnoreCase(TrimOws(rest.substr(0, comma)), token)) return true;
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return false;
}

// Digits only, at most 18 of them (no sign, no spaces, no lists).
bool ParseContentLength(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 18) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

void RequestParser::Feed(std::string_view bytes) { buffer_.append(bytes); }

RequestParser::Phase RequestParser::phase() const {
  if (state_ == State::kBody) return Phase::kBody;
  if (state_ == State::kRequestLine && pos_ == buffer_.size()) return Phase::kIdle;
  return Phase::kHead;
}

RequestParser::Result RequestParser::Fail(int status, std::string message, ParseError* error) {
  state_ = State::kFailed;
  failure_ = {status, std::move(message)};
  *error = failure_;
  return Result::kError;
}

RequestParser::Result RequestParser::Next(ParsedRequest* request, ParseError* error) {
  for (;;) {
    if (state_ == State::kFailed) {
      *error = failure_;
      return Result::kError;
    }
    if (state_ == State::kBody) {
      const size_t take = std::min(body_expected_ - current_.body.size(), buffer_.size() - pos_);
      current_.body.append(buffer_, pos_, take);
      pos_ += take;
      if (current_.body.size() < body_expected_) {
        Compact();
        return Result::kNeedMore;
      }
    } else {
      // A line at a time: caps are checked as soon as a line completes, or while it grows.
      const size_t nl = buffer_.find('\n', std::max(scan_, pos_));
      if (nl == std::string::npos) {
        scan_ = buffer_.size();
        const size_t pending = buffer_.size() - pos_;
        if (state_ == State::kRequestLine && pending > limits_.max_target_bytes + 64) {
          return Fail(414, "request target longer than " + std::to_string(limits_.max_target_bytes) + " bytes", error);
        }
        if (state_ == State::kHeaders && header_bytes_ + pending > limits_.max_header_bytes) {
          return Fail(431, "request header section larger than " + std::to_string(limits_.max_header_bytes) + " bytes",
                      error);
        }
        Compact();
        return Result::kNeedMore;
      }
      std::string_view line(buffer_.data() + pos_, nl - pos_);
      const size_t consumed = nl + 1 - pos_;
      pos_ = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      Result r;
      if (state_ == State::kRequestLine) {
        if (line.empty()) continue;  // RFC 9112 2.2: ignore empty lines before a request line
        r = ParseRequestLine(line, error);
      } else {
        header_bytes_ += consumed;
        if (header_bytes_ > limits_.max_header_bytes) {
          return Fail(431, "request header section larger than " + std::to_string(limits_.max_header_bytes) + " bytes",
                      error);
        }
        r = line.empty() ? FinishHead(error) : ParseHeaderLine(line, error);
      }
      if (r == Result::kError) return r;
      if (state_ != State::kBody || body_expected_ > 0) continue;
    }
    // A complete request.
    *request = std::move(current_);
    current_ = ParsedRequest{};
    state_ = State::kRequestLine;
    header_lines_ = header_bytes_ = body_expected_ = 0;
    Compact();
    return Result::kRequest;
  }
}

RequestParser::Result RequestParser::ParseRequestLine(std::string_view line, ParseError* error) {
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Fail(400, "malformed request line", error);
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method)) return Fail(400, "malformed request method", error);
  if (target.size() > limits_.max_target_bytes) {
    return Fail(414, "request target longer than " + std::to_string(limits_.max_target_bytes) + " bytes", error);
  }
  const bool visible = std::all_of(target.begin(), target.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if (target.empty() || target.front() != '/' || !visible) return Fail(400, "malformed request target", error);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    const bool http = version.size() == 8 && version.substr(0, 5) == "HTTP/" && std::isdigit(version[5]) &&
                      version[6] == '.' && std::isdigit(version[7]);
    return http ? Fail(505, "HTTP version not supported", error) : Fail(400, "malformed HTTP version", error);
  }
  current_.method = method;
  current_.target = target;
  current_.version = version;
  state_ = State::kHeaders;
  return Result::kNeedMore;
}

RequestParser::Result RequestParser::ParseHeaderLine(std::string_view line, ParseError* error) {
  if (++header_lines_ > limits_.max_header_lines) {
    return Fail(431, "more than " + std::to_string(limits_.max_header_lines) + " request headers", error);
  }
  if (line.front() == ' ' || line.front() == '\t') return Fail(400, "obsolete header line folding", error);
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return Fail(400, "header line without a colon", error);
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = TrimOws(line.substr(colon + 1));
  if (!IsToken(name)) return Fail(400, "malformed header name", error);
  if (!IsFieldValue(value)) return Fail(400, "malformed header value", error);
  current_.headers.emplace(std::string(name), std::string(value));
  return Result::kNeedMore;
}

RequestParser::Result RequestParser::FinishHead(ParseError* error) {
  const httplib::Headers& h = current_.headers;
  if (h.count("Transfer-Encoding") > 0) {
    return Fail(411, "request bodies need a Content-Length header; Transfer-Encoding is not accepted", error);
  }
  if (h.count("Host") > 1) return Fail(400, "more than one Host header", error);
  uint64_t length = 0;
  bool have_length = false;
  auto [begin, end] = h.equal_range("Content-Length");
  for (auto it = begin; it != end; ++it) {
    uint64_t v = 0;
    if (!ParseContentLength(it->second, &v)) return Fail(400, "malformed Content-Length", error);
    if (have_length && v != length) return Fail(400, "conflicting Content-Length headers", error);
    length = v;
    have_length = true;
  }
  if (length > limits_.max_body_bytes) {
    return Fail(413, "request body larger than " + std::to_string(limits_.max_body_bytes) + " bytes", error);
  }
  auto expect = h.find("Expect");
  if (expect != h.end()) {
    if (!EqualsIgnoreCase(expect->second, "100-continue")) return Fail(417, "unsupported Expect header", error);
    current_.expects_continue = length > 0;
  }
  current_.keep_alive = current_.version == "HTTP/1.1" ? !ConnectionHas(h, "close") : ConnectionHas(h, "keep-alive");
  body_expected_ = length;
  state_ = State::kBody;
  return Result::kNeedMore;
}

void RequestParser::Compact() {
  // Drop consumed bytes once they are the bulk of the buffer, so pipelined input costs O(n).
  if (pos_ == buffer_.size()) {
    buffer_.clear();
    pos_ = scan_ = 0;
  } else if (pos_ > 4096 && pos_ * 2 > buffer_.size()) {
    buffer_.erase(0, pos_);
    scan_ -= std::min(scan_, pos_);
    pos_ = 0;
  }
}

}  // namespace hearth::http
