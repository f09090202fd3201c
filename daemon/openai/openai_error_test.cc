#include "daemon/openai/openai_error.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace hearth::daemon {
namespace {

TEST(OpenAiErrorTest, BodyHasAllFourFields) {
  rapidjson::Document d;
  d.Parse(ErrorBody({400, "max_tokens must be positive \"x\"", "invalid_request_error", "max_tokens", ""}).c_str());
  ASSERT_FALSE(d.HasParseError());
  const auto& e = d["error"];
  EXPECT_STREQ(e["message"].GetString(), "max_tokens must be positive \"x\"");
  EXPECT_STREQ(e["type"].GetString(), "invalid_request_error");
  EXPECT_STREQ(e["param"].GetString(), "max_tokens");
  EXPECT_TRUE(e["code"].IsNull());
}

TEST(OpenAiErrorTest, StatusMapsToHttp) {
  EXPECT_EQ(ErrorFromStatus(Status::InvalidArgument("x")).http_status, 400);
  EXPECT_EQ(ErrorFromStatus(Status::NotFound("x")).http_status, 404);
  EXPECT_EQ(ErrorFromStatus(Status::ResourceExhausted("x")).http_status, 429);
  EXPECT_EQ(ErrorFromStatus(Status::Unavailable("x")).http_status, 503);
  EXPECT_EQ(ErrorFromStatus(Status::Internal("x")).http_status, 500);
}

}  // namespace
}  // namespace hearth::daemon
