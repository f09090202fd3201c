// hearthctl's connection to hearthd's admin API.
#pragma once

#include <string>

#include "common/status.h"

namespace hearth::cli {

struct AdminTarget {
  std::string host = "127.0.0.1";
  int port = 8081;
  std::string token;  // bearer token, if the admin API wants one
  std::string ToString() const { return "http://" + host + ":" + std::to_string(port); }
};

// --url, else $HEARTH_URL, else admin_listen from the config file
// ($HEARTH_CONFIG or /etc/hearth/hearth.toml), else 127.0.0.1:8081.
StatusOr<AdminTarget> ResolveTarget(const std::string& url_flag, const std::string& config_flag);

// Parses "http://HOST:PORT" (a trailing slash is fine).
StatusOr<AdminTarget> ParseUrl(const std::string& url);

struct HttpReply {
  int status = 0;
  std::string body;
};

// Unavailable when the daemon cannot be reached.
StatusOr<HttpReply> Get(const AdminTarget& target, const std::string& path);

}  // namespace hearth::cli
