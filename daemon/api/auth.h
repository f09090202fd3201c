// Bearer-token checks for one listener: when any token is set, requests under a path prefix
// need "Authorization: Bearer TOKEN" (or Anthropic's "x-api-key: TOKEN"), else a 401 in the
// OpenAI error format (Anthropic's on /v1/messages). The accepted tokens can be replaced while
// serving (configuration reload).
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::http {
class Router;
}

namespace hearth::daemon {

class BearerAuth {
 public:
  explicit BearerAuth(std::vector<std::string> tokens = {});

  // Empty strings are ignored; no tokens at all turns the check off.
  void SetTokens(std::vector<std::string> tokens);
  bool enabled() const;
  // Whether an Authorization header value lets a request through.
  bool Allows(std::string_view authorization) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::string> tokens_;  // GUARDED_BY(mu_)
};

// Installs the check as `server`'s pre-routing handler for paths that start with `prefix`
// (e.g. "/v1/"). `auth` must outlive the server's handlers. The same handler, for every path
// and before the key check, refuses request bodies sent with Transfer-Encoding: chunked (411):
// the HTTP library would read such a body whole, past the payload limit, so bodies must come
// with a Content-Length.
void RequireBearerToken(http::Router& server, const BearerAuth* auth, std::string prefix);
// The same for every path that starts with one of `prefixes`.
void RequireBearerToken(http::Router& server, const BearerAuth* auth, std::vector<std::string> prefixes);

}  // namespace hearth::daemon
