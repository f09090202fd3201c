// Bearer-token checks: the matching rules, and the 401 a listener answers.
#include "daemon/api/auth.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include <thread>

#include "daemon/http/http_server.h"

namespace hearth::daemon {
namespace {

using namespace std::chrono_literals;

TEST(BearerAuthTest, MatchesOnlyAConfiguredToken) {
  BearerAuth auth({"k1", "second-key"});
  EXPECT_TRUE(auth.enabled());
  EXPECT_TRUE(auth.Allows("Bearer k1"));
  EXPECT_TRUE(auth.Allows("Bearer second-key"));
  EXPECT_TRUE(auth.Allows("bearer k1")) << "the scheme is case-insensitive";
  EXPECT_FALSE(auth.Allows("Bearer K1")) << "the token is not";
  EXPECT_FALSE(auth.Allows("Bearer k"));
  EXPECT_FALSE(auth.Allows("Bearer k10"));
  EXPECT_FALSE(auth.Allows("Bearer "));
  EXPECT_FALSE(auth.Allows("Basic k1"));
  EXPECT_FALSE(auth.Allows("k1"));
  EXPECT_FALSE(auth.Allows(""));
}

TEST(BearerAuthTest, NoTokensMeansOpen) {
  BearerAuth auth({"", ""});
  EXPECT_FALSE(auth.enabled());
  EXPECT_TRUE(auth.Allows(""));
  auth.SetTokens({"new"});
  EXPECT_FALSE(auth.Allows(""));
  EXPECT_TRUE(auth.Allows("Bearer new"));
}

class RequireBearerTokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ok = [](const httplib::Request&, httplib::Response& res) { res.set_content("{}", "application/json"); };
    server_.router().Get("/v1/models", ok);
    server_.router().Get("/healthz", ok);
    RequireBearerToken(server_.router(), &auth_, "/v1/");
    StatusOr<int> port = server_.Start("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    port_ = *port;
  }
  void TearDown() override { server_.Stop(); }
  httplib::Result Get(const char* path, const char* authorization = nullptr) {
    httplib::Client cli("127.0.0.1", port_);
    httplib::Headers headers;
    if (authorization) headers.emplace("Authorization", authorization);
    return cli.Get(path, headers);
  }

  BearerAuth auth_{{"sk-test"}};
  http::HttpServer server_;
  int port_ = 0;
};

TEST_F(RequireBearerTokenTest, RefusesWithoutTheKeyInTheOpenAiFormat) {
  for (const char* header : {static_cast<const char*>(nullptr), "Bearer wrong"}) {
    auto r = Get("/v1/models", header);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    rapidjson::Document d;
    d.Parse(r->body.c_str());
    ASSERT_FALSE(d.HasParseError()) << r->body;
    EXPECT_STREQ(d["error"]["type"].GetString(), "invalid_request_error");
    EXPECT_STREQ(d["error"]["code"].GetString(), "invalid_api_key");
    EXPECT_TRUE(d["error"]["param"].IsNull());
  }
  auto ok = Get("/v1/models", "Bearer sk-test");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(RequireBearerTokenTest, HealthStaysOpenAndClearingTheKeysOpensTheApi) {
  auto health = Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auth_.SetTokens({});
  auto r = Get("/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// "Chunked" once slipped past a case-sensitive check, and its body past the size limit.
TEST_F(RequireBearerTokenTest, AnyTransferEncodingIsRefusedBeforeTheBodyIsRead) {
  for (const char* te : {"chunked", "Chunked", "CHUNKED", "gzip, chunked"}) {
    httplib::Client cli("127.0.0.1", port_);
    auto r = cli.Post("/anywhere", {{"Transfer-Encoding", te}}, "5\r\nhello\r\n0\r\n\r\n", "text/plain");
    ASSERT_TRUE(r) << te;
    EXPECT_EQ(r->status, 411) << te << ": " << r->body;
    EXPECT_NE(r->body.find("length_required"), std::string::npos) << r->body;
  }
}

// Anthropic's SDKs send the key as x-api-key, and read a 401 in Anthropic's format.
TEST_F(RequireBearerTokenTest, TakesXApiKeyAndRefusesMessagesInAnthropicsFormat) {
  httplib::Client cli("127.0.0.1", port_);
  auto ok = cli.Get("/v1/models", {{"x-api-key", "sk-test"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto wrong = cli.Get("/v1/models", {{"x-api-key", "sk-tes"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto bad = cli.Post("/v1/messages", {{"x-api-key", "nope"}}, "{}", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 401);
  rapidjson::Document d;
  d.Parse(bad->body.c_str());
  ASSERT_TRUE(d.IsObject()) << bad->body;
  EXPECT_STREQ(d["type"].GetString(), "error");
  EXPECT_STREQ(d["error"]["type"].GetString(), "authentication_error");
}

}  // namespace
}  // namespace hearth::daemon
