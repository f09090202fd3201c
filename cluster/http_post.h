// One HTTP/1.0 POST on its own connection, read to the end: how the etcd client talks to the
// JSON gateway. Over HTTP/1.1 the gateway answers errors chunked with a trailer, which
// cpp-httplib cannot read; over 1.0 every answer is the body until the connection closes.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "common/status.h"

namespace hearth::cluster {

struct HttpReply {
  int status = 0;
  std::string body;
};

// Unavailable when the host cannot be reached, or does not answer in `timeout` (the whole
// exchange), or `cancelled` (asked every 100 ms while waiting) says true; Corruption for an
// answer that is not HTTP or is larger than `max_reply_bytes`.
StatusOr<HttpReply> PostHttp10(const std::string& host, int port, const std::string& path, const std::string& body,
                               std::chrono::milliseconds timeout, size_t max_reply_bytes = 64u << 20,
                               const std::function<bool()>& cancelled = {});

}  // namespace hearth::cluster
