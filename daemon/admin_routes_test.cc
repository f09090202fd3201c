// The admin API's routes over loopback HTTP: models, requests list/show/cancel, drain, reload.
#include "daemon/admin_routes.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include <map>
#include <thread>

#include "daemon/chunk_encoder.h"
#include "daemon/engine.h"
#include "daemon/request_registry.h"

namespace hearth::daemon {
namespace {

using namespace std::chrono_literals;

// Cancelling finishes the request's sink at once.
class CancellingEngine : public Engine {
 public:
  const model::Tokenizer* tokenizer(const std::string&) const override { return nullptr; }
  int32_t context_length(const std::string&) const override { return 0; }
  StatusOr<uint64_t> Submit(GenerationRequest, std::shared_ptr<RequestSink>) override {
    return Status::Unimplemented("not here");
  }
  void Cancel(uint64_t id) override {
    auto it = sinks.find(id);
    if (it == sinks.end()) return;
    FinishEvent f;
    f.finish_reason = "cancelled";
    it->second->OnFinish(f);
    sinks.erase(it);
  }
  EngineStats Stats() const override {
    EngineStats s;
    s.num_running = static_cast<int64_t>(sinks.size());
    return s;
  }
  std::map<uint64_t, std::shared_ptr<RequestSink>> sinks;
};

rapidjson::Document Json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  EXPECT_FALSE(d.HasParseError()) << body;
  return d;
}

class AdminRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AdminRoutesOptions options;
    options.registry = &registry_;
    options.engine = [this] { return static_cast<Engine*>(&engine_); };
    options.models = [] { return std::vector<ModelStatus>{{"smol", "/models/smol.gguf", 8192, "loaded"}}; };
    options.draining = [this] { return draining_; };
    options.set_draining = [this](bool on) { draining_ = on; };
    options.reload = [this] { return reload_result_; };
    RegisterAdminApi(server_, std::move(options));
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }

  httplib::Client Client() { return httplib::Client("127.0.0.1", port_); }

  // A request in the registry under `id`; `end` is its finish reason, or empty to leave it
  // running (the engine can cancel it).
  void AddRequest(uint64_t id, const std::string& end) {
    auto entry = RequestEntry::Create({"smol", "completions", false, 4, 1},
                                      MakeChunkEncoder({false, "smol", 1, false, false, nullptr}));
    auto sink = entry->Tee(nullptr);
    registry_.Add(id, entry);
    TokenEvent t;
    t.text = "x";
    sink->OnToken(t);
    if (end.empty()) {
      engine_.sinks[id] = sink;
    } else {
      FinishEvent f;
      f.finish_reason = end;
      f.completion_tokens = 1;
      sink->OnFinish(f);
    }
  }

  static void ExpectError(const httplib::Result& r, int status, const char* param, const char* code = nullptr) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    auto d = Json(r->body);
    ASSERT_TRUE(d.HasMember("error")) << r->body;
    if (param) {
      ASSERT_TRUE(d["error"]["param"].IsString()) << r->body;
      EXPECT_STREQ(d["error"]["param"].GetString(), param);
    }
    if (code) {
      ASSERT_TRUE(d["error"]["code"].IsString()) << r->body;
      EXPECT_STREQ(d["error"]["code"].GetString(), code);
    }
  }

  CancellingEngine engine_;
  MemoryRequestRegistry registry_;
  bool draining_ = false;
  StatusOr<ReloadReport> reload_result_ = ReloadReport{{"api_keys"}, {"listen"}};
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(AdminRoutesTest, ListsModelsAndRefusesRunTimeLoadsClearly) {
  auto r = Client().Get("/admin/v1/models");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  auto d = Json(r->body);
  ASSERT_EQ(d["data"].Size(), 1u);
  EXPECT_STREQ(d["data"][0]["name"].GetString(), "smol");
  EXPECT_STREQ(d["data"][0]["path"].GetString(), "/models/smol.gguf");
  EXPECT_EQ(d["data"][0]["context_length"].GetInt(), 8192);
  EXPECT_STREQ(d["data"][0]["state"].GetString(), "loaded");

  auto cli = Client();
  ExpectError(cli.Post("/admin/v1/models", "[]", "application/json"), 400, nullptr);
  ExpectError(cli.Post("/admin/v1/models", R"({"path":"/x"})", "application/json"), 400, "name");
  ExpectError(cli.Post("/admin/v1/models", R"({"name":"n"})", "application/json"), 400, "path");
  ExpectError(cli.Post("/admin/v1/models", R"({"name":"n","path":"/no/such.gguf"})", "application/json"), 400,
              "path");
  // A real file: the refusal says why and what to do instead.
  auto load = cli.Post("/admin/v1/models", R"({"name":"n","path":"/proc/self/exe"})", "application/json");
  ExpectError(load, 409, nullptr, "runtime_model_loading_unsupported");
  EXPECT_NE(load->body.find("restart"), std::string::npos) << load->body;
  // Asking for what is already loaded is fine; the same name elsewhere is a conflict.
  auto same = cli.Post("/admin/v1/models", R"({"name":"smol","path":"/models/smol.gguf"})", "application/json");
  ASSERT_TRUE(same);
  EXPECT_EQ(same->status, 200) << same->body;
  ExpectError(cli.Post("/admin/v1/models", R"({"name":"smol","path":"/proc/self/exe"})", "application/json"), 409,
              "name", "model_exists");

  ExpectError(cli.Delete("/admin/v1/models/smol"), 409, nullptr, "runtime_model_loading_unsupported");
  ExpectError(cli.Delete("/admin/v1/models/ghost"), 404, "model", "model_not_found");
}

TEST_F(AdminRoutesTest, ListsRequestsWithFilters) {
  AddRequest(1, "stop");
  AddRequest(2, "");
  AddRequest(3, "error");
  auto cli = Client();
  auto all = cli.Get("/admin/v1/requests");
  ASSERT_TRUE(all);
  ASSERT_EQ(all->status, 200) << all->body;
  auto d = Json(all->body);
  ASSERT_EQ(d["data"].Size(), 3u);
  EXPECT_STREQ(d["data"][0]["id"].GetString(), "3");
  EXPECT_STREQ(d["data"][0]["state"].GetString(), "failed");
  EXPECT_FALSE(d["data"][0].HasMember("text")) << "the list is summaries";

  auto running = Json(cli.Get("/admin/v1/requests?state=running")->body);
  ASSERT_EQ(running["data"].Size(), 1u);
  EXPECT_STREQ(running["data"][0]["id"].GetString(), "2");
  EXPECT_EQ(Json(cli.Get("/admin/v1/requests?limit=2")->body)["data"].Size(), 2u);
  EXPECT_EQ(Json(cli.Get("/admin/v1/requests?state=cancelled")->body)["data"].Size(), 0u);

  ExpectError(cli.Get("/admin/v1/requests?state=done"), 400, "state");
  ExpectError(cli.Get("/admin/v1/requests?limit=0"), 400, "limit");
  ExpectError(cli.Get("/admin/v1/requests?limit=x"), 400, "limit");
}

TEST_F(AdminRoutesTest, ShowsAndCancelsARequest) {
  AddRequest(5, "");
  auto cli = Client();
  auto show = cli.Get("/admin/v1/requests/5");
  ASSERT_TRUE(show);
  ASSERT_EQ(show->status, 200);
  EXPECT_STREQ(Json(show->body)["state"].GetString(), "running");
  EXPECT_STREQ(Json(show->body)["text"].GetString(), "x");

  auto del = cli.Delete("/admin/v1/requests/5");
  ASSERT_TRUE(del);
  ASSERT_EQ(del->status, 200) << del->body;
  EXPECT_STREQ(Json(del->body)["state"].GetString(), "cancelled");
  EXPECT_TRUE(engine_.sinks.empty());
  ExpectError(cli.Delete("/admin/v1/requests/6"), 404, "id", "request_not_found");
}

TEST_F(AdminRoutesTest, DrainsAndResumes) {
  auto cli = Client();
  auto r = cli.Post("/admin/v1/drain", "", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(draining_);
  EXPECT_TRUE(Json(r->body)["draining"].GetBool());

  r = cli.Post("/admin/v1/drain", R"({"resume":true})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_FALSE(draining_);
  EXPECT_FALSE(Json(r->body)["draining"].GetBool());

  ExpectError(cli.Post("/admin/v1/drain", R"({"resume":"yes"})", "application/json"), 400, "resume");
  EXPECT_FALSE(draining_);
}

TEST_F(AdminRoutesTest, ReloadReportsWhatChangedOrWhyNot) {
  auto cli = Client();
  auto r = cli.Post("/admin/v1/reload", "", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto d = Json(r->body);
  EXPECT_STREQ(d["applied"][0].GetString(), "api_keys");
  EXPECT_STREQ(d["restart_required"][0].GetString(), "listen");

  reload_result_ = Status::InvalidArgument("hearth.toml:3: expected a value");
  r = cli.Post("/admin/v1/reload", "", "application/json");
  ExpectError(r, 400, nullptr);
  EXPECT_NE(r->body.find("hearth.toml:3"), std::string::npos) << r->body;
}

}  // namespace
}  // namespace hearth::daemon
