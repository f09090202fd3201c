// hearthctl's connection to hearthd's admin API.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace hearth::cli {

struct AdminTarget {
  std::string host = "127.0.0.1";
  int port = 8081;
  std::string token;  // bearer token, if the admin API wants one
  std::string ToString() const { return "http://" + host + ":" + std::to_string(port); }
};

// --url, else $HEARTH_URL, else admin_listen from the config file
// ($HEARTH_CONFIG or /etc/hearth/hearth.toml), else 127.0.0.1:8081. The token:
// $HEARTH_ADMIN_TOKEN, else admin_token from the config file.
StatusOr<AdminTarget> ResolveTarget(const std::string& url_flag, const std::string& config_flag);

// Parses "http://HOST:PORT" (a trailing slash is fine).
StatusOr<AdminTarget> ParseUrl(const std::string& url);

struct HttpReply {
  int status = 0;
  std::string body;
};

// Unavailable when the daemon cannot be reached.
StatusOr<HttpReply> Get(const AdminTarget& target, const std::string& path);
// POST with a JSON body ("" sends none) or DELETE.
StatusOr<HttpReply> Post(const AdminTarget& target, const std::string& path, const std::string& json_body);
StatusOr<HttpReply> Delete(const AdminTarget& target, const std::string& path);
// GET whose body arrives in pieces (a server-sent event stream): `on_data`
// gets each piece as it comes and returns false to stop. The reply's body
// holds only an error answer (status >= 400).
StatusOr<HttpReply> GetStream(const AdminTarget& target, const std::string& path,
                              const std::function<bool(const char*, size_t)>& on_data,
                              const std::vector<std::pair<std::string, std::string>>& headers = {});
// POST of a JSON body whose answer is a stream (as GetStream).
StatusOr<HttpReply> PostStream(const AdminTarget& target, const std::string& path, const std::string& json_body,
                               const std::function<bool(const char*, size_t)>& on_data);

// The message of an OpenAI-style error body ({"error":{"message":...}}), else the body itself.
std::string ErrorMessage(const HttpReply& reply);

}  // namespace hearth::cli
