// The request registry, API keys, drain and reload against a real hearthd serving SmolLM2:
// GET /v1/requests/{id} after a completion, its events replayed and resumed, DELETE cancelling
// a long generation, 401 without a key, drain's 503 and resume, and SIGHUP reloading the keys.
// Skipped when the model file is absent.
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "tests/model_path.h"
#include "tests/test_process.h"

namespace hearth::testing {
namespace {

using namespace std::chrono_literals;

rapidjson::Document Json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  EXPECT_FALSE(d.HasParseError()) << body;
  return d;
}

struct SseEvent {
  std::string id;
  std::string data;
};

std::vector<SseEvent> ParseSse(const std::string& body) {
  std::vector<SseEvent> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) end = body.size();
    SseEvent event;
    bool any = false;
    for (size_t line = pos; line < end;) {
      size_t next = std::min(body.find('\n', line), end);
      const std::string text = body.substr(line, next - line);
      if (text.rfind("id: ", 0) == 0) event.id = text.substr(4), any = true;
      if (text.rfind("data: ", 0) == 0) event.data = text.substr(6), any = true;
      line = next + 1;
    }
    if (any) out.push_back(event);
    pos = end + 2;
  }
  return out;
}

// The chat content streamed in `events`.
std::string Content(const std::vector<SseEvent>& events) {
  std::string content;
  for (const SseEvent& e : events) {
    if (e.data == "[DONE]") break;
    auto chunk = Json(e.data);
    if (chunk.HasMember("choices") && !chunk["choices"].Empty() && chunk["choices"][0]["delta"].HasMember("content")) {
      content += chunk["choices"][0]["delta"]["content"].GetString();
    }
  }
  return content;
}

class RequestsApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!DefaultModelPresent()) return;
    dir_ = new std::string(TempDir());
    port_ = FreePort();
    admin_port_ = FreePort();
    WriteConfig("k1", "info");
    daemon_ = new ChildProcess({BinaryPath("hearthd"), "--config", *dir_ + "/hearth.toml", "--listen",
                                "127.0.0.1:" + std::to_string(port_), "--admin-listen",
                                "127.0.0.1:" + std::to_string(admin_port_), "--data-dir", *dir_ + "/data",
                                "--threads", "2", "--model", "smollm2=" + DefaultModelPath()},
                               *dir_ + "/hearthd.log");
    healthy_ = WaitHealthy(port_, 60000);
  }
  static void TearDownTestSuite() {
    delete daemon_;
    daemon_ = nullptr;
    if (dir_) std::filesystem::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!DefaultModelPresent()) GTEST_SKIP() << "no model at " << DefaultModelPath();
    ASSERT_TRUE(healthy_) << daemon_->Log();
  }

  static void WriteConfig(const std::string& api_key, const std::string& log_level) {
    std::ofstream(*dir_ + "/hearth.toml") << "api_keys = [\"" << api_key << "\"]\nadmin_token = \"adm\"\nlog_level = \""
                                          << log_level << "\"\n";
    key_ = api_key;
  }

  // A call to the API (`admin` false) or the admin API with `token` as the bearer token
  // (empty: none).
  static httplib::Result Call(const std::string& method, const std::string& path, const std::string& body,
                              const std::string& token, bool admin = false, httplib::Headers headers = {}) {
    httplib::Client cli("127.0.0.1", admin ? admin_port_ : port_);
    cli.set_read_timeout(120, 0);
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    if (method == "GET") return cli.Get(path.c_str(), headers);
    if (method == "DELETE") return cli.Delete(path.c_str(), headers);
    return cli.Post(path.c_str(), headers, body, "application/json");
  }
  static httplib::Result Api(const std::string& method, const std::string& path, const std::string& body = "",
                             httplib::Headers headers = {}) {
    return Call(method, path, body, key_, false, std::move(headers));
  }
  static httplib::Result Admin(const std::string& method, const std::string& path, const std::string& body = "") {
    return Call(method, path, body, "adm", true);
  }

  // Polls GET /v1/requests/{id} until it shows `state` (bounded so that a bug fails, not hangs).
  static bool WaitState(const std::string& id, const char* state) {
    for (int i = 0; i < 600; ++i) {
      auto r = Api("GET", "/v1/requests/" + id);
      if (r && r->status == 200 && std::string(Json(r->body)["state"].GetString()) == state) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  static inline std::string* dir_ = nullptr;
  static inline ChildProcess* daemon_ = nullptr;
  static inline int port_ = 0;
  static inline int admin_port_ = 0;
  static inline bool healthy_ = false;
  static inline std::string key_;
};

constexpr const char* kStreamedCapital =
    R"({"model":"smollm2","messages":[{"role":"user","content":"What is the capital of France?"}],)"
    R"("max_tokens":16,"temperature":0,"stream":true,"stream_options":{"include_usage":true}})";

TEST_F(RequestsApiTest, ApiKeysGuardTheApiAndTheAdminTokenTheAdminApi) {
  auto none = Call("GET", "/v1/models", "", "");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_STREQ(Json(none->body)["error"]["code"].GetString(), "invalid_api_key");
  EXPECT_STREQ(Json(none->body)["error"]["type"].GetString(), "invalid_request_error");
  auto wrong = Call("POST", "/v1/chat/completions", kStreamedCapital, "nope");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto ok = Api("GET", "/v1/models");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(HttpGet(port_, "/healthz").status, 200) << "health stays open";

  EXPECT_EQ(Call("GET", "/admin/v1/status", "", "", true)->status, 401);
  EXPECT_EQ(Call("GET", "/admin/v1/status", "", key_, true)->status, 401) << "an API key is not the admin token";
  EXPECT_EQ(Admin("GET", "/admin/v1/status")->status, 200);
}

TEST_F(RequestsApiTest, ACompletedStreamCanBeShownReplayedAndResumed) {
  auto r = Api("POST", "/v1/chat/completions", kStreamedCapital);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string id = r->get_header_value("X-Request-Id");
  std::vector<SseEvent> events = ParseSse(r->body);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back().data, "[DONE]");
  const std::string content = Content(events);
  EXPECT_FALSE(content.empty());

  auto show = Api("GET", "/v1/requests/" + id);
  ASSERT_TRUE(show);
  ASSERT_EQ(show->status, 200) << show->body;
  auto d = Json(show->body);
  EXPECT_STREQ(d["state"].GetString(), "finished");
  EXPECT_EQ(std::string(d["text"].GetString()), content);
  EXPECT_STREQ(d["finish_reason"].GetString(), "length");
  EXPECT_EQ(d["usage"]["completion_tokens"].GetInt(), 16);
  EXPECT_EQ(d["tokens"].Size(), 16u);

  auto replay = Api("GET", "/v1/requests/" + id + "/events");
  ASSERT_TRUE(replay);
  ASSERT_EQ(replay->status, 200);
  EXPECT_EQ(Content(ParseSse(replay->body)), content);
  EXPECT_EQ(replay->body, r->body) << "the replay is the stream as it was sent";

  auto rest = Api("GET", "/v1/requests/" + id + "/events", "", {{"Last-Event-ID", "3"}});
  ASSERT_TRUE(rest);
  std::vector<SseEvent> tail = ParseSse(rest->body);
  ASSERT_EQ(tail.size(), events.size() - 3);
  for (size_t i = 0; i < tail.size(); ++i) {
    EXPECT_EQ(tail[i].id, events[i + 3].id);
    EXPECT_EQ(tail[i].data, events[i + 3].data);
  }
  EXPECT_EQ(tail.front().id, "4");

  auto missing = Api("GET", "/v1/requests/987654321");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_STREQ(Json(missing->body)["error"]["code"].GetString(), "request_not_found");

  auto listed = Admin("GET", "/admin/v1/requests?state=finished&limit=5");
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->status, 200) << listed->body;
  EXPECT_NE(listed->body.find("\"id\":\"" + id + "\""), std::string::npos) << listed->body;
}

// A non-streamed request with logprobs retried with its Idempotency-Key is answered with the
// same body, logprobs and top_logprobs included (chat and completions).
// The ids clients hold from response bodies (chatcmpl-N, cmpl-N) name the request on the API's
// and the admin API's request routes, as N does.
TEST_F(RequestsApiTest, BodyIdsNameTheRequestOnEveryRequestRoute) {
  auto r = Api("POST", "/v1/completions", R"({"model":"smollm2","prompt":"The capital of France is","max_tokens":3})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string id = r->get_header_value("X-Request-Id");
  const std::string body_id = Json(r->body)["id"].GetString();
  ASSERT_EQ(body_id, "cmpl-" + id);
  for (const std::string& name : {body_id, "chatcmpl-" + id}) {
    for (bool admin : {false, true}) {
      const std::string prefix = admin ? "/admin/v1/requests/" : "/v1/requests/";
      auto show = admin ? Admin("GET", prefix + name) : Api("GET", prefix + name);
      ASSERT_TRUE(show);
      ASSERT_EQ(show->status, 200) << prefix << name << " " << show->body;
      EXPECT_EQ(std::string(Json(show->body)["id"].GetString()), id);
      auto events = admin ? Admin("GET", prefix + name + "/events") : Api("GET", prefix + name + "/events");
      ASSERT_TRUE(events);
      EXPECT_EQ(events->status, 200) << prefix << name;
      EXPECT_EQ(ParseSse(events->body).back().data, "[DONE]");
      auto del = admin ? Admin("DELETE", prefix + name) : Api("DELETE", prefix + name);
      ASSERT_TRUE(del);
      EXPECT_EQ(del->status, 200) << prefix << name << " " << del->body;
    }
  }
}

TEST_F(RequestsApiTest, IdempotentRetryAnswersTheSameBodyWithLogprobs) {
  const std::pair<const char*, std::string> requests[] = {
      {"/v1/chat/completions",
       R"({"model":"smollm2","messages":[{"role":"user","content":"Say hello."}],"max_tokens":8,)"
       R"("temperature":0,"logprobs":true,"top_logprobs":5})"},
      {"/v1/completions", R"({"model":"smollm2","prompt":"The capital of France is","max_tokens":8,)"
                          R"("temperature":0,"logprobs":3})"},
  };
  int n = 0;
  for (const auto& [path, body] : requests) {
    const httplib::Headers key = {{"Idempotency-Key", "logprobs-retry-" + std::to_string(n++)}};
    auto first = Api("POST", path, body, key);
    ASSERT_TRUE(first);
    ASSERT_EQ(first->status, 200) << first->body;
    auto d = Json(first->body);
    ASSERT_TRUE(d["choices"][0]["logprobs"].IsObject()) << first->body;
    auto retry = Api("POST", path, body, key);
    ASSERT_TRUE(retry);
    ASSERT_EQ(retry->status, 200) << retry->body;
    EXPECT_EQ(retry->get_header_value("X-Hearth-Idempotent-Replay"), "true");
    EXPECT_EQ(retry->get_header_value("X-Request-Id"), first->get_header_value("X-Request-Id"));
    EXPECT_EQ(retry->body, first->body) << path;
  }
}

TEST_F(RequestsApiTest, DeleteCancelsALongGeneration) {
  std::promise<std::string> id_promise;
  std::string body;
  std::thread client([&] {
    httplib::Client cli("127.0.0.1", port_);
    cli.set_read_timeout(120, 0);
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/chat/completions";
    req.body = R"({"model":"smollm2","messages":[{"role":"user","content":"Write a very long story"}],)"
               R"("max_tokens":4000,"stream":true})";
    req.set_header("Content-Type", "application/json");
    req.set_header("Authorization", "Bearer " + key_);
    req.response_handler = [&](const httplib::Response& res) {
      id_promise.set_value(res.get_header_value("X-Request-Id"));
      return true;
    };
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      body.append(data, n);
      return true;
    };
    cli.send(req);
  });
  const std::string id = id_promise.get_future().get();
  const bool running = WaitState(id, "running");
  auto del = Api("DELETE", "/v1/requests/" + id);
  client.join();  // the stream ends by itself once the request is cancelled
  ASSERT_TRUE(running) << id;
  ASSERT_TRUE(del);
  ASSERT_EQ(del->status, 200) << del->body;
  auto d = Json(del->body);
  EXPECT_STREQ(d["state"].GetString(), "cancelled");
  EXPECT_LT(d["completion_tokens"].GetInt(), 4000);

  std::vector<SseEvent> events = ParseSse(body);
  ASSERT_GE(events.size(), 2u) << body;
  EXPECT_EQ(events.back().data, "[DONE]");
  EXPECT_TRUE(Json(events[events.size() - 2].data).HasMember("error")) << body;
}

TEST_F(RequestsApiTest, DrainRefusesNewRequestsUntilResumed) {
  auto drain = Admin("POST", "/admin/v1/drain");
  ASSERT_TRUE(drain);
  ASSERT_EQ(drain->status, 200) << drain->body;
  EXPECT_TRUE(Json(drain->body)["draining"].GetBool());
  EXPECT_TRUE(Json(Admin("GET", "/admin/v1/status")->body)["draining"].GetBool());

  auto refused = Api("POST", "/v1/chat/completions", kStreamedCapital);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_TRUE(refused->has_header("Retry-After"));
  EXPECT_STREQ(Json(refused->body)["error"]["code"].GetString(), "draining");

  auto resume = Admin("POST", "/admin/v1/drain", R"({"resume":true})");
  ASSERT_TRUE(resume);
  EXPECT_FALSE(Json(resume->body)["draining"].GetBool());
  auto served = Api("POST", "/v1/chat/completions", kStreamedCapital);
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200) << served->body;
}

TEST_F(RequestsApiTest, SighupReloadsTheApiKeys) {
  WriteConfig("k2", "info");
  daemon_->Signal(SIGHUP);
  bool switched = false;
  for (int i = 0; i < 400 && !switched; ++i) {
    auto r = Call("GET", "/v1/models", "", "k2");
    switched = r && r->status == 200;
    if (!switched) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(switched) << daemon_->Log();
  EXPECT_EQ(Call("GET", "/v1/models", "", "k1")->status, 401);

  // The admin endpoint reloads too, and says what took effect.
  WriteConfig("k3", "debug");
  auto report = Admin("POST", "/admin/v1/reload");
  ASSERT_TRUE(report);
  ASSERT_EQ(report->status, 200) << report->body;
  auto d = Json(report->body);
  ASSERT_EQ(d["applied"].Size(), 2u) << report->body;
  EXPECT_STREQ(d["applied"][0].GetString(), "log_level");
  EXPECT_STREQ(d["applied"][1].GetString(), "api_keys");
  EXPECT_EQ(d["restart_required"].Size(), 0u);
  EXPECT_EQ(Call("GET", "/v1/models", "", "k3")->status, 200);
  EXPECT_EQ(report->body.find("k3"), std::string::npos) << "keys are never echoed";

  WriteConfig("k1", "info");
  ASSERT_EQ(Admin("POST", "/admin/v1/reload")->status, 200);
}

}  // namespace
}  // namespace hearth::testing
