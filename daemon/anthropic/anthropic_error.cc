#include "daemon/anthropic/anthropic_error.h"

#include <httplib.h>

#include "common/json_writer.h"

namespace hearth::daemon {

AnthropicError ToAnthropicError(const ApiError& error) {
  AnthropicError out;
  out.message = error.message;
  // Hearth's messages usually start with the field's name; say it where they do not.
  if (!error.param.empty() && error.message.find(error.param) == std::string::npos) {
    out.message = error.param + ": " + error.message;
  }
  out.http_status = error.http_status;
  switch (error.http_status) {
    case 400:
    case 409:
    case 411:
    case 422: out.type = "invalid_request_error"; break;
    case 401: out.type = "authentication_error"; break;
    case 403: out.type = "permission_error"; break;
    case 404: out.type = "not_found_error"; break;
    case 413: out.type = "request_too_large"; break;
    case 429: out.type = "rate_limit_error"; break;
    case 499: out.type = "api_error"; break;  // cancelled by an operator: kept a 4xx, not retried
    case 503:
    case 529:
      out.type = "overloaded_error";
      out.http_status = 529;
      break;
    default:
      out.type = "api_error";
      if (out.http_status < 500) out.http_status = 500;
      break;
  }
  return out;
}

std::string AnthropicErrorBody(const AnthropicError& error) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("type");
  w.String("error");
  w.Key("error");
  w.StartObject();
  w.Key("type");
  WriteString(w, error.type);
  w.Key("message");
  WriteString(w, error.message);
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

void SetAnthropicError(httplib::Response& res, const ApiError& error) {
  const AnthropicError e = ToAnthropicError(error);
  res.status = e.http_status;
  if (e.http_status == 429 || e.http_status == 529) res.set_header("Retry-After", "1");
  if (e.http_status == 499) res.set_header("x-should-retry", "false");  // Anthropic's SDKs read it too
  res.set_content(AnthropicErrorBody(e), "application/json");
}

}  // namespace hearth::daemon
