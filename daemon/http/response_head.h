// What goes on the wire for a response: status line and headers, chunk framing, and the
// OpenAI-format error bodies the server writes itself. Pure functions.
#pragma once

#include <httplib.h>

#include <string>
#include <string_view>

namespace hearth::http {

enum class Framing {
  kContentLength,  // Content-Length: body.size()
  kChunked,        // Transfer-Encoding: chunked (HTTP/1.1 streams)
  kUntilClose,     // no length; the body ends when the connection closes (HTTP/1.0 streams)
};

// "HTTP/1.1 200 OK\r\n" + the handler's headers + framing + Connection + "\r\n". Headers whose
// name or value could split the response (CR, LF) are dropped; framing headers are ours.
std::string ResponseHead(const httplib::Response& res, Framing framing, bool keep_alive);

// Appends one chunk ("<hex size>\r\n<data>\r\n"); empty data appends nothing.
void AppendChunk(std::string* out, std::string_view data);
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

// {"error":{"message":...,"type":...,"param":null,"code":...}}; empty code: null.
std::string ErrorJson(std::string_view message, std::string_view type, std::string_view code);

std::string_view ReasonPhrase(int status);

}  // namespace hearth::http
