#include "daemon/openai/openai_error.h"

#include <httplib.h>

#include "common/json_writer.h"

namespace hearth::daemon {

std::string ErrorBody(const ApiError& error) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("error");
  w.StartObject();
  w.Key("message");
  WriteString(w, error.message);
  w.Key("type");
  WriteString(w, error.type);
  w.Key("param");
  if (error.param.empty())
    w.Null();
  else
    WriteString(w, error.param);
  w.Key("code");
  if (error.code.empty())
    w.Null();
  else
    WriteString(w, error.code);
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}

ApiError ErrorFromStatus(const Status& status) {
  ApiError e;
  e.message = status.message();
  switch (status.code()) {
    case Status::Code::kInvalidArgument: e.http_status = 400; break;
    case Status::Code::kNotFound: e.http_status = 404; e.code = "not_found"; break;
    case Status::Code::kResourceExhausted: e.http_status = 429; e.type = "rate_limit_error"; break;
    case Status::Code::kUnavailable: e.http_status = 503; e.type = "server_error"; break;
    default: e.http_status = 500; e.type = "server_error"; break;
  }
  return e;
}

void SetError(httplib::Response& res, const ApiError& error) {
  res.status = error.http_status;
  if (error.http_status == 429 || error.http_status == 503) res.set_header("Retry-After", "1");
  // OpenAI's SDKs retry 408, 409, 429 and 5xx unless told otherwise; a cancelled request must
  // not start again.
  if (error.http_status == 499) res.set_header("x-should-retry", "false");
  res.set_content(ErrorBody(error), "application/json");
}

void SetError(httplib::Response& res, int http_status, std::string message, std::string type) {
  ApiError e;
  e.http_status = http_status;
  e.message = std::move(message);
  e.type = std::move(type);
  SetError(res, e);
}

}  // namespace hearth::daemon
