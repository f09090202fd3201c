#include "daemon/api/auth.h"

#include <httplib.h>

#include <cctype>

#include "daemon/anthropic/anthropic_error.h"
#include "daemon/http/router.h"
#include "daemon/openai/openai_error.h"

namespace hearth::daemon {
namespace {

// Compares without an early exit, so the time taken says nothing about where a guess went wrong.
bool SameSecret(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i % (b.empty() ? 1 : b.size())]);
  return diff == 0 && !b.empty();
}

}  // namespace

BearerAuth::BearerAuth(std::vector<std::string> tokens) { SetTokens(std::move(tokens)); }

void BearerAuth::SetTokens(std::vector<std::string> tokens) {
  std::erase_if(tokens, [](const std::string& t) { return t.empty(); });
  std::lock_guard<std::mutex> lock(mu_);
  tokens_ = std::move(tokens);
}

bool BearerAuth::enabled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !tokens_.empty();
}

bool BearerAuth::Allows(std::string_view authorization) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (tokens_.empty()) return true;
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size()) return false;
  // The scheme is case-insensitive (RFC 7235).
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != std::tolower(kScheme[i])) return false;
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  bool ok = false;
  for (const std::string& t : tokens_) ok |= SameSecret(token, t);
  return ok;
}

void RequireBearerToken(http::Router& server, const BearerAuth* auth, std::string prefix) {
  RequireBearerToken(server, auth, std::vector<std::string>{std::move(prefix)});
}

void RequireBearerToken(http::Router& server, const BearerAuth* auth, std::vector<std::string> prefixes) {
  server.set_pre_routing_handler([auth, prefixes](const httplib::Request& req, httplib::Response& res) {
    // Any Transfer-Encoding, in any capitalisation: a chunked body has no length to check
    // against the body limit before it is read.
    if (req.has_header("Transfer-Encoding")) {
      SetError(res, {411, "request bodies must be sent with a Content-Length, not chunked", "invalid_request_error",
                     "", "length_required"});
      res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    }
    bool guarded = false;
    for (const std::string& prefix : prefixes) guarded = guarded || req.path.compare(0, prefix.size(), prefix) == 0;
    if (!guarded) return httplib::Server::HandlerResponse::Unhandled;
    if (auth->Allows(req.get_header_value("Authorization"))) return httplib::Server::HandlerResponse::Unhandled;
    // Anthropic's SDKs send the key as x-api-key.
    const std::string api_key = req.get_header_value("x-api-key");
    if (!api_key.empty() && auth->Allows(std::string("Bearer ").append(api_key))) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    const bool sent = req.has_header("Authorization") || req.has_header("x-api-key");
    const ApiError error{401,
                         sent ? "incorrect API key provided"
                              : "an API key is required: send Authorization: Bearer KEY or x-api-key: KEY",
                         "invalid_request_error", "", "invalid_api_key"};
    if (req.path == "/v1/messages") {
      SetAnthropicError(res, error);
    } else {
      SetError(res, error);
    }
    res.set_header("WWW-Authenticate", "Bearer");
    return httplib::Server::HandlerResponse::Handled;
  });
}

}  // namespace hearth::daemon
