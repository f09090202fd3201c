#include "daemon/anthropic/anthropic_error.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace hearth::daemon {
namespace {

TEST(AnthropicErrorTest, BodyIsAnthropicShape) {
  const AnthropicError e = ToAnthropicError({400, "max_tokens is required", "invalid_request_error", "max_tokens", ""});
  rapidjson::Document d;
  d.Parse(AnthropicErrorBody(e).c_str());
  ASSERT_FALSE(d.HasParseError());
  EXPECT_STREQ(d["type"].GetString(), "error");
  EXPECT_STREQ(d["error"]["type"].GetString(), "invalid_request_error");
  EXPECT_STREQ(d["error"]["message"].GetString(), "max_tokens is required");
  EXPECT_EQ(d["error"].MemberCount(), 2u);
}

TEST(AnthropicErrorTest, MessageNamesTheFieldWhenItDoesNot) {
  EXPECT_EQ(ToAnthropicError({400, "must be positive", "invalid_request_error", "top_k", ""}).message,
            "top_k: must be positive");
}

TEST(AnthropicErrorTest, StatusesMapToAnthropicTypes) {
  struct Case {
    int in;
    int out;
    const char* type;
  };
  for (const Case& c : {Case{400, 400, "invalid_request_error"}, Case{401, 401, "authentication_error"},
                        Case{403, 403, "permission_error"}, Case{404, 404, "not_found_error"},
                        Case{413, 413, "request_too_large"}, Case{429, 429, "rate_limit_error"},
                        Case{499, 499, "api_error"},
                        Case{503, 529, "overloaded_error"}, Case{500, 500, "api_error"}}) {
    const AnthropicError e = ToAnthropicError({c.in, "x", "server_error", "", ""});
    EXPECT_EQ(e.http_status, c.out) << c.in;
    EXPECT_EQ(e.type, c.type) << c.in;
  }
}

}  // namespace
}  // namespace hearth::daemon
