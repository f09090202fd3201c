// Errors in Anthropic's body, {"type":"error","error":{"type","message"}}, from the ApiError
// every Hearth handler builds: the same failure, worded and numbered as Anthropic's SDKs expect.
#pragma once

#include <string>

#include "daemon/openai/openai_error.h"

namespace httplib {
struct Response;
}

namespace hearth::daemon {

struct AnthropicError {
  int http_status = 400;
  std::string type = "invalid_request_error";
  std::string message;
};

// 400, 409, 422: invalid_request_error; 401 authentication_error; 403 permission_error; 404
// not_found_error; 413 request_too_large; 429 rate_limit_error; 499 (cancelled by an operator)
// api_error, still 499 and with x-should-retry: false; 503 (draining, no engine) becomes
// Anthropic's 529 overloaded_error; anything else api_error (500).
AnthropicError ToAnthropicError(const ApiError& error);

// The body: the message names the offending field when the error has one.
std::string AnthropicErrorBody(const AnthropicError& error);

// Status, body and, for 429 and 529, Retry-After.
void SetAnthropicError(httplib::Response& res, const ApiError& error);

}  // namespace hearth::daemon
