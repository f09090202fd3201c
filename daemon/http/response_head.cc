#include "daemon/http/response_head.h"

#include <strings.h>

#include <cstdio>

namespace hearth::http {
namespace {

bool Splits(const std::string& s) { return s.find_first_of("\r\n", 0) != std::string::npos || s.find('\0') != std::string::npos; }

bool IsFramingHeader(const std::string& name) {
  for (const char* ours : {"Content-Length", "Transfer-Encoding", "Connection"}) {
    if (strcasecmp(name.c_str(), ours) == 0) return true;
  }
  return false;
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(ch);
    } else if (c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\u%04x", c);
      out->append(buf);
    } else {
      out->push_back(ch);
    }
  }
  out->push_back('"');
}

}  // namespace

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";  // nginx's; gRPC gateways map CANCELLED to it
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string ResponseHead(const httplib::Response& res, Framing framing, bool keep_alive) {
  std::string out = "HTTP/1.1 " + std::to_string(res.status) + " ";
  out += ReasonPhrase(res.status);
  out += "\r\n";
  for (const auto& [name, value] : res.headers) {
    if (IsFramingHeader(name) || Splits(name) || Splits(value) || name.empty()) continue;
    out += name + ": " + value + "\r\n";
  }
  const bool no_body = res.status == 204 || res.status == 304 || (res.status >= 100 && res.status < 200);
  if (framing == Framing::kChunked) {
    out += "Transfer-Encoding: chunked\r\n";
  } else if (framing == Framing::kContentLength && !no_body) {
    out += "Content-Length: " + std::to_string(res.body.size()) + "\r\n";
  }
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  return out;
}

void AppendChunk(std::string* out, std::string_view data) {
  if (data.empty()) return;
  char size[24];
  snprintf(size, sizeof(size), "%zx\r\n", data.size());
  out->append(size);
  out->append(data);
  out->append("\r\n");
}

std::string ErrorJson(std::string_view message, std::string_view type, std::string_view code) {
  std::string out = R"({"error":{"message":)";
  AppendJsonString(&out, message);
  out += R"(,"type":)";
  AppendJsonString(&out, type);
  out += R"(,"param":null,"code":)";
  if (code.empty()) {
    out += "null";
  } else {
    AppendJsonString(&out, code);
  }
  out += "}}";
  return out;
}

}  // namespace hearth::http
