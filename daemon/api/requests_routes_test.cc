// /v1/requests/{id}, its events (replay, Last-Event-ID) and DELETE, together with the
// generation routes that fill the registry, over real loopback HTTP against a scripted engine.
#include "daemon/api/requests_routes.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include <atomic>
#include <future>
#include <thread>

#include "daemon/api/api_routes.h"
#include "daemon/http/http_server.h"
#include "daemon/requests/request_registry.h"
#include "daemon/testing/scripted_engine.h"

namespace hearth::daemon {
namespace {

using namespace std::chrono_literals;

constexpr const char* kChat = R"({"model":"smol","messages":[{"role":"user","content":"hello"}])";
constexpr const char* kStreamChat =
    R"({"model":"smol","messages":[{"role":"user","content":"hello"}],"stream":true,)"
    R"("stream_options":{"include_usage":true}})";

struct SseEvent {
  std::string id;  // empty when the event had none
  std::string data;
};

// The events of an SSE body, comments left out.
std::vector<SseEvent> ParseSse(const std::string& body) {
  std::vector<SseEvent> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) end = body.size();
    SseEvent event;
    bool any = false;
    size_t line_start = pos;
    while (line_start < end) {
      size_t line_end = body.find('\n', line_start);
      if (line_end == std::string::npos || line_end > end) line_end = end;
      const std::string line = body.substr(line_start, line_end - line_start);
      if (line.rfind("id: ", 0) == 0) event.id = line.substr(4), any = true;
      if (line.rfind("data: ", 0) == 0) event.data = line.substr(6), any = true;
      line_start = line_end + 1;
    }
    if (any) out.push_back(event);
    pos = end + 2;
  }
  return out;
}

rapidjson::Document Json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  EXPECT_FALSE(d.HasParseError()) << body;
  return d;
}

class RequestsRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<http::HttpServer>();
    auto engine = [this] { return static_cast<Engine*>(&engine_); };
    ApiRoutesOptions api;
    api.engine = engine;
    api.created_unix = 1234;
    api.id_scope = scope_;
    api.registry = &registry_;
    api.draining = [this] { return draining_.load(); };
    RegisterOpenAiRoutes(server_->router(), std::move(api));
    RegisterRequestRoutes(server_->router(), {&registry_, engine, "/v1/requests", nullptr, scope_});
    StatusOr<int> port = server_->Start("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    port_ = *port;
  }
  void TearDown() override { server_->Stop(); }

  httplib::Client Client() {
    httplib::Client cli("127.0.0.1", port_);
    cli.set_read_timeout(10, 0);
    return cli;
  }
  httplib::Result Post(const std::string& body) { return Client().Post("/v1/chat/completions", body, "application/json"); }
  httplib::Result Get(const std::string& path, httplib::Headers headers = {}) {
    return Client().Get(path.c_str(), headers);
  }

  // Waits until the request shows `state` in GET /v1/requests/{id}.
  bool WaitState(const std::string& id, const char* state) {
    for (int i = 0; i < 1000; ++i) {
      auto r = Get("/v1/requests/" + id);
      if (r && r->status == 200 && std::string(Json(r->body)["state"].GetString()) == state) return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }

  // The id of the newest request in the registry, once there is one.
  std::string WaitNewestId() {
    for (int i = 0; i < 1000; ++i) {
      auto list = registry_.List({});
      if (!list.empty()) return std::to_string(list[0].id);
      std::this_thread::sleep_for(5ms);
    }
    return "";
  }

  static void ExpectError(const httplib::Result& r, int status, const char* code) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    auto d = Json(r->body);
    ASSERT_TRUE(d.HasMember("error")) << r->body;
    EXPECT_TRUE(d["error"]["message"].IsString());
    if (code) {
      ASSERT_TRUE(d["error"]["code"].IsString()) << r->body;
      EXPECT_STREQ(d["error"]["code"].GetString(), code);
    }
  }

  ScriptedEngine engine_;
  MemoryRequestRegistry registry_;
  std::atomic<bool> draining_{false};
  std::string scope_;  // ApiRoutesOptions::id_scope
  std::unique_ptr<http::HttpServer> server_;
  int port_ = 0;
};

// A cluster node writes its ids with its name, unique across the cluster.
class ScopedRequestsRoutesTest : public RequestsRoutesTest {
 protected:
  ScopedRequestsRoutesTest() { scope_ = "node-a"; }
};

TEST_F(ScopedRequestsRoutesTest, IdsCarryTheNodeNameAndAreFoundByAnyOfTheirSpellings) {
  auto r = Post(std::string(kChat) + "}");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string id = r->get_header_value("X-Request-Id");
  ASSERT_EQ(id.rfind("node-a-", 0), 0u) << id;
  const std::string number = id.substr(7);
  EXPECT_EQ(std::string(Json(r->body)["id"].GetString()), "chatcmpl-" + id);
  for (const std::string& spelling : {id, "chatcmpl-" + id, number}) {
    auto show = Get("/v1/requests/" + spelling);
    ASSERT_TRUE(show);
    EXPECT_EQ(show->status, 200) << spelling;
    EXPECT_EQ(std::string(Json(show->body)["id"].GetString()), id) << spelling;
  }
  for (const std::string& other : {"node-b-" + number, "node-" + number, "node-a-x" + number}) {
    auto show = Get("/v1/requests/" + other);
    ASSERT_TRUE(show);
    EXPECT_EQ(show->status, 404) << other << ": another node's id is not this node's request";
  }
  auto streamed = Post(std::string(kChat) + ",\"stream\":true}");
  ASSERT_TRUE(streamed);
  EXPECT_NE(streamed->body.find("\"id\":\"chatcmpl-node-a-"), std::string::npos) << streamed->body;
}

TEST_F(RequestsRoutesTest, ShowsAFinishedCompletion) {
  auto r = Post(std::string(kChat) + "}");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string id = r->get_header_value("X-Request-Id");
  const int prompt_tokens = Json(r->body)["usage"]["prompt_tokens"].GetInt();

  auto show = Get("/v1/requests/" + id);
  ASSERT_TRUE(show);
  ASSERT_EQ(show->status, 200) << show->body;
  auto d = Json(show->body);
  EXPECT_EQ(std::string(d["id"].GetString()), id);
  EXPECT_STREQ(d["object"].GetString(), "hearth.request");
  EXPECT_STREQ(d["state"].GetString(), "finished");
  EXPECT_STREQ(d["model"].GetString(), "smol");
  EXPECT_STREQ(d["endpoint"].GetString(), "chat.completions");
  EXPECT_FALSE(d["stream"].GetBool());
  EXPECT_STREQ(d["text"].GetString(), "Hello world");
  EXPECT_EQ(d["tokens"].Size(), 3u);
  EXPECT_STREQ(d["finish_reason"].GetString(), "stop");
  EXPECT_EQ(d["usage"]["prompt_tokens"].GetInt(), prompt_tokens);
  EXPECT_EQ(d["usage"]["completion_tokens"].GetInt(), 3);
  EXPECT_EQ(d["usage"]["total_tokens"].GetInt(), prompt_tokens + 3);
  EXPECT_TRUE(d["error"].IsNull());
}

TEST_F(RequestsRoutesTest, LiveStreamCarriesIdsAndTheReplayIsTheSameBytes) {
  auto r = Post(kStreamChat);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string id = r->get_header_value("X-Request-Id");
  std::vector<SseEvent> events = ParseSse(r->body);
  ASSERT_GE(events.size(), 6u) << r->body;  // role, 3 tokens, finish, usage, [DONE]
  for (size_t i = 0; i + 1 < events.size(); ++i) EXPECT_EQ(events[i].id, std::to_string(i + 1)) << r->body;
  EXPECT_EQ(events.back().data, "[DONE]");

  auto replay = Get("/v1/requests/" + id + "/events");
  ASSERT_TRUE(replay);
  ASSERT_EQ(replay->status, 200) << replay->body;
  EXPECT_EQ(replay->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_EQ(replay->body, r->body);

  // A non-streamed request replays as a stream too.
  auto plain = Post(std::string(kChat) + "}");
  ASSERT_TRUE(plain);
  auto plain_events = ParseSse(Get("/v1/requests/" + plain->get_header_value("X-Request-Id") + "/events")->body);
  ASSERT_FALSE(plain_events.empty());
  EXPECT_EQ(plain_events.back().data, "[DONE]");
  std::string content;
  for (size_t i = 0; i + 1 < plain_events.size(); ++i) {
    auto chunk = Json(plain_events[i].data);
    const auto& delta = chunk["choices"][0]["delta"];
    if (delta.HasMember("content")) content += delta["content"].GetString();
  }
  EXPECT_EQ(content, Json(plain->body)["choices"][0]["message"]["content"].GetString());
}

TEST_F(RequestsRoutesTest, LastEventIdResumesAfterThatEvent) {
  auto r = Post(kStreamChat);
  ASSERT_TRUE(r);
  const std::string id = r->get_header_value("X-Request-Id");
  std::vector<SseEvent> all = ParseSse(r->body);
  ASSERT_GE(all.size(), 4u);

  auto rest = Get("/v1/requests/" + id + "/events", {{"Last-Event-ID", "2"}});
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->status, 200) << rest->body;
  std::vector<SseEvent> tail = ParseSse(rest->body);
  ASSERT_EQ(tail.size(), all.size() - 2);
  for (size_t i = 0; i < tail.size(); ++i) {
    EXPECT_EQ(tail[i].id, all[i + 2].id);
    EXPECT_EQ(tail[i].data, all[i + 2].data);
  }

  // After the last event: only [DONE].
  const std::string last = all[all.size() - 2].id;
  std::vector<SseEvent> done = ParseSse(Get("/v1/requests/" + id + "/events", {{"Last-Event-ID", last}})->body);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].data, "[DONE]");

  ExpectError(Get("/v1/requests/" + id + "/events", {{"Last-Event-ID", "abc"}}), 400, nullptr);
}

// The ids in response bodies (chatcmpl-N, cmpl-N) name the request as N does, on every route.
TEST_F(RequestsRoutesTest, BodyIdsNameTheRequest) {
  auto r = Post(std::string(kChat) + "}");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string id = r->get_header_value("X-Request-Id");
  const std::string body_id = Json(r->body)["id"].GetString();
  EXPECT_EQ(body_id, "chatcmpl-" + id);
  for (const std::string& name : {body_id, "cmpl-" + id}) {
    auto show = Get("/v1/requests/" + name);
    ASSERT_TRUE(show);
    ASSERT_EQ(show->status, 200) << name << " " << show->body;
    EXPECT_EQ(std::string(Json(show->body)["id"].GetString()), id);
    auto events = Get("/v1/requests/" + name + "/events");
    ASSERT_TRUE(events);
    EXPECT_EQ(events->status, 200) << name;
    EXPECT_EQ(ParseSse(events->body).back().data, "[DONE]");
    auto del = Client().Delete("/v1/requests/" + name);
    ASSERT_TRUE(del);
    EXPECT_EQ(del->status, 200) << name << " " << del->body;
  }
  ExpectError(Get("/v1/requests/chatcmpl-"), 404, "request_not_found");
  ExpectError(Get("/v1/requests/chatcmpl-x" + id), 404, "request_not_found");
  ExpectError(Get("/v1/requests/cmpl-cmpl-" + id), 404, "request_not_found");
}

TEST_F(RequestsRoutesTest, UnknownIdsAre404) {
  ExpectError(Get("/v1/requests/99999"), 404, "request_not_found");
  ExpectError(Get("/v1/requests/local-00ab"), 404, "request_not_found");
  ExpectError(Get("/v1/requests/99999/events"), 404, "request_not_found");
  ExpectError(Client().Delete("/v1/requests/99999"), 404, "request_not_found");
}

TEST_F(RequestsRoutesTest, DeleteCancelsAStreamingRequest) {
  engine_.endless = true;
  auto stream = std::async(std::launch::async, [this] { return Post(kStreamChat); });
  const std::string id = WaitNewestId();
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(WaitState(id, "running"));

  auto del = Client().Delete("/v1/requests/" + id);
  ASSERT_TRUE(del);
  ASSERT_EQ(del->status, 200) << del->body;
  EXPECT_STREQ(Json(del->body)["state"].GetString(), "cancelled");
  EXPECT_TRUE(engine_.cancelled(std::stoull(id)));

  // The stream ends with an error event, then [DONE]; a replay ends the same way.
  auto r = stream.get();
  ASSERT_TRUE(r);
  std::vector<SseEvent> events = ParseSse(r->body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back().data, "[DONE]");
  EXPECT_TRUE(Json(events[events.size() - 2].data).HasMember("error"));
  EXPECT_EQ(Get("/v1/requests/" + id + "/events")->body, r->body);

  // Cancelling what already ended changes nothing.
  auto again = Client().Delete("/v1/requests/" + id);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_STREQ(Json(again->body)["state"].GetString(), "cancelled");
}

TEST_F(RequestsRoutesTest, EventsFollowARunningRequestAndAWatcherLeavingCancelsNothing) {
  engine_.endless = true;
  auto request = std::async(std::launch::async, [this] { return Post(std::string(kChat) + "}"); });
  const std::string id = WaitNewestId();
  ASSERT_FALSE(id.empty());

  // A watcher that hangs up after a few events.
  httplib::Client cli("127.0.0.1", port_);
  std::string seen;
  int chunks = 0;
  auto r = cli.Get(("/v1/requests/" + id + "/events").c_str(), [&](const char* data, size_t n) {
    seen.append(data, n);
    return ++chunks < 3;
  });
  EXPECT_FALSE(r);  // we hung up
  EXPECT_EQ(seen.rfind("id: 1\n", 0), 0u) << seen;
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(engine_.cancelled(std::stoull(id)));
  EXPECT_TRUE(WaitState(id, "running"));

  // A watcher that stays sees the request to its end.
  auto watch = std::async(std::launch::async, [&] { return Get("/v1/requests/" + id + "/events"); });
  ASSERT_TRUE(WaitState(id, "running"));
  ASSERT_TRUE(Client().Delete("/v1/requests/" + id));
  auto watched = watch.get();
  ASSERT_TRUE(watched);
  std::vector<SseEvent> events = ParseSse(watched->body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back().data, "[DONE]");
  for (size_t i = 0; i + 1 < events.size(); ++i) EXPECT_EQ(events[i].id, std::to_string(i + 1));

  auto finished = request.get();  // the non-streamed request was cancelled: 499, not to be retried
  ASSERT_TRUE(finished);
  EXPECT_EQ(finished->status, 499);
  EXPECT_EQ(finished->get_header_value("x-should-retry"), "false");
}

TEST_F(RequestsRoutesTest, DrainingRefusesNewRequestsWith503) {
  draining_ = true;
  auto r = Post(std::string(kChat) + "}");
  ExpectError(r, 503, "draining");
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_TRUE(r->has_header("X-Request-Id"));
  EXPECT_TRUE(registry_.List({}).empty());
  draining_ = false;
  r = Post(std::string(kChat) + "}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// docs/cluster.md, "What it costs": what peers said their tokens cost, plus the tokens
// generated here at this node's average cost per token; only once the request has ended.
TEST(RequestJsonTest, CostIsWhatPeersChargedPlusTheTokensMadeHere) {
  RequestInfo info;
  info.id = 3;
  info.completion_tokens = 10;
  info.remote_tokens = 4;
  info.remote_dollars = 1.0;
  auto cost = [&](double per_token) {
    rapidjson::Document d;
    d.Parse(RequestJson(info, /*with_output=*/false, {}, per_token).c_str());
    EXPECT_TRUE(d.IsObject());
    return d.HasMember("cost_dollars") ? d["cost_dollars"].GetDouble() : -1.0;
  };
  EXPECT_EQ(cost(0.5), -1.0) << "still running: no cost yet";
  info.finish_reason = FinishReason::kLength;
  EXPECT_DOUBLE_EQ(cost(0.5), 1.0 + 6 * 0.5);
  EXPECT_DOUBLE_EQ(cost(0), 1.0) << "a node without a price adds nothing";
  EXPECT_EQ(cost(-1), -1.0) << "no cost function: no field";
  info.remote_tokens = 12;  // a restarted request's tokens generated twice elsewhere
  EXPECT_DOUBLE_EQ(cost(0.5), 1.0);
}

}  // namespace
}  // namespace hearth::daemon
