// Errors in the OpenAI body: {"error":{"message","type","param","code"}}.
#pragma once

#include <string>

#include "common/status.h"

namespace httplib {
struct Response;
}

namespace hearth::daemon {

struct ApiError {
  int http_status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // empty: null
  std::string code;   // empty: null
};

std::string ErrorBody(const ApiError& error);

// Maps a Status to the HTTP error a client should see: InvalidArgument 400,
// NotFound 404, ResourceExhausted 429, Unavailable 503, anything else 500.
ApiError ErrorFromStatus(const Status& status);

void SetError(httplib::Response& res, const ApiError& error);
// The same for an error with no param or code.
void SetError(httplib::Response& res, int http_status, std::string message, std::string type);

}  // namespace hearth::daemon
