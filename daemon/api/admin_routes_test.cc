// The admin API's routes over loopback HTTP: models, requests list/show/cancel, drain, reload.
#include "daemon/api/admin_routes.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include <map>
#include <thread>

#include "daemon/openai/chunk_encoder.h"
#include "daemon/engine/engine.h"
#include "daemon/http/http_server.h"
#include "daemon/requests/request_registry.h"

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
    f.finish_reason = FinishReason::kCancelled;
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

ModelStatus Model(const std::string& name, const std::string& path, int32_t context, bool pinned,
                  const std::string& source) {
  ModelStatus s;
  s.name = name;
  s.path = path;
  s.context_length = context;
  s.state = "warm";
  s.worker = 0;
  s.pinned = pinned;
  s.source = source;
  return s;
}

// A registry of one model, "smol", warm; it records what it was asked.
class FakeModels : public ModelControl {
 public:
  std::vector<ModelStatus> List() override { return {smol}; }
  StatusOr<ModelStatus> Add(const std::string& name, const std::string& path, bool pinned) override {
    if (name == smol.name && path != smol.path) return Status::FailedPrecondition("registered from elsewhere");
    if (path == "/no/such.gguf") return Status::InvalidArgument("no file at /no/such.gguf");
    if (path == "/full") return Status::Unavailable("no room");
    return Model(name, path, 2048, pinned, "admin");
  }
  Status Remove(const std::string& name, bool force) override {
    if (name != smol.name) return Status::NotFound("no model '" + name + "'");
    if (busy && !force) return Status::FailedPrecondition("model 'smol' has 1 queued or running requests");
    last_forced = force;
    return Status::Ok();
  }
  StatusOr<ModelStatus> Load(const std::string& name) override { return Find(name); }
  StatusOr<ModelStatus> Unload(const std::string& name, bool force) override {
    HEARTH_ASSIGN_OR_RETURN(ModelStatus s, Find(name));
    if (busy && !force) return Status::FailedPrecondition("busy");
    s.state = "registered";
    s.worker = -1;
    return s;
  }
  StatusOr<ModelStatus> Stage(const std::string& name, bool force) override {
    HEARTH_ASSIGN_OR_RETURN(ModelStatus s, Find(name));
    if (busy && !force) return Status::FailedPrecondition("busy");
    if (staging_full) return Status::ResourceExhausted("no room to stage model 'smol'");
    s.state = "staged";
    s.staged = true;
    s.staged_bytes = 1234;
    return s;
  }
  StatusOr<ModelStatus> SetPinned(const std::string& name, bool pinned) override {
    HEARTH_RETURN_IF_ERROR(Find(name).status());
    smol.pinned = pinned;
    return smol;
  }
  StatusOr<ModelStatus> Find(const std::string& name) {
    if (name != smol.name) return Status::NotFound("no model '" + name + "'");
    return smol;
  }

  ModelStatus smol = Model("smol", "/models/smol.gguf", 8192, false, "config");
  bool busy = false;
  bool staging_full = false;
  bool last_forced = false;
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
    options.models = &models_;
    options.draining = [this] { return draining_; };
    options.set_draining = [this](bool on) { draining_ = on; };
    options.reload = [this] { return reload_result_; };
    options.history = [this](const std::string& model, int64_t limit) -> StatusOr<LoadHistory> {
      if (model != "smol") return LoadHistory{};
      LoadHistory h = history_;
      if (static_cast<int64_t>(h.windows.size()) > limit) h.windows.erase(h.windows.begin(), h.windows.end() - limit);
      return h;
    };
    options.forecast_options = forecast_options_;
    RegisterAdminApi(server_.router(), std::move(options));
    StatusOr<int> port = server_.Start("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    port_ = *port;
  }
  void TearDown() override { server_.Stop(); }

  httplib::Client Client() { return httplib::Client("127.0.0.1", port_); }

  // A request in the registry under `id`; `end` is its finish reason, or empty to leave it
  // running (the engine can cancel it).
  void AddRequest(uint64_t id, const std::string& end) {
    auto entry =
        RequestEntry::Create({"smol", "completions", false, 4, 1}, MakeChunkEncoder({false, "smol", 1, false, false}));
    auto sink = entry->Tee(nullptr);
    registry_.Add(id, entry);
    TokenEvent t;
    t.text = "x";
    sink->OnToken(t);
    if (end.empty()) {
      engine_.sinks[id] = sink;
    } else {
      FinishEvent f;
      ASSERT_TRUE(ParseFinishReason(end, &f.finish_reason)) << end;
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
  FakeModels models_;
  MemoryRequestRegistry registry_;
  bool draining_ = false;
  StatusOr<ReloadReport> reload_result_ = ReloadReport{{"api_keys"}, {"listen"}};
  // What GET /admin/v1/models/smol/history reads, and the recorder's options it evaluates with:
  // one-minute windows, a period of two (the forecaster sees the same window a period back).
  LoadHistory history_;
  scheduler::ForecastOptions forecast_options_{.window_seconds = 60, .period_seconds = 120};
  http::HttpServer server_;
  int port_ = 0;
};

TEST_F(AdminRoutesTest, ListsAddsRemovesLoadsAndPinsModels) {
  auto r = Client().Get("/admin/v1/models");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  auto d = Json(r->body);
  ASSERT_EQ(d["data"].Size(), 1u);
  EXPECT_STREQ(d["data"][0]["name"].GetString(), "smol");
  EXPECT_STREQ(d["data"][0]["path"].GetString(), "/models/smol.gguf");
  EXPECT_EQ(d["data"][0]["context_length"].GetInt(), 8192);
  EXPECT_STREQ(d["data"][0]["state"].GetString(), "warm");
  EXPECT_FALSE(d["data"][0]["pinned"].GetBool());
  ASSERT_TRUE(d["data"][0]["worker"].IsInt()) << r->body;
  EXPECT_EQ(d["data"][0]["worker"].GetInt(), 0);
  // Each key once: the model object is the registry's record, not two views of it.
  int workers = 0;
  for (const auto& m : d["data"][0].GetObject()) workers += std::string(m.name.GetString()) == "worker";
  EXPECT_EQ(workers, 1) << r->body;

  auto cli = Client();
  ExpectError(cli.Post("/admin/v1/models", "[]", "application/json"), 400, nullptr);
  ExpectError(cli.Post("/admin/v1/models", R"({"path":"/x"})", "application/json"), 400, "name");
  ExpectError(cli.Post("/admin/v1/models", R"({"name":"n"})", "application/json"), 400, "path");
  ExpectError(cli.Post("/admin/v1/models", R"({"name":"a/b","path":"/x"})", "application/json"), 400, "name");
  ExpectError(cli.Post("/admin/v1/models", R"({"name":"n","path":"/x","pinned":"yes"})", "application/json"), 400,
              "pinned");
  ExpectError(cli.Post("/admin/v1/models", R"({"name":"n","path":"/no/such.gguf"})", "application/json"), 400,
              "path");
  ExpectError(cli.Post("/admin/v1/models", R"({"name":"smol","path":"/other.gguf"})", "application/json"), 409,
              nullptr, "model_exists");
  auto full = cli.Post("/admin/v1/models", R"({"name":"n","path":"/full"})", "application/json");
  ExpectError(full, 503, nullptr);
  EXPECT_EQ(full->get_header_value("Retry-After"), "1");

  auto added = cli.Post("/admin/v1/models", R"({"name":"n","path":"/m/n.gguf","pinned":true})", "application/json");
  ASSERT_TRUE(added);
  ASSERT_EQ(added->status, 200) << added->body;
  d = Json(added->body);
  EXPECT_STREQ(d["state"].GetString(), "warm");
  EXPECT_TRUE(d["pinned"].GetBool());
  EXPECT_STREQ(d["source"].GetString(), "admin");

  // Busy: 409 unless forced.
  models_.busy = true;
  ExpectError(cli.Delete("/admin/v1/models/smol"), 409, nullptr, "model_busy");
  ExpectError(cli.Post("/admin/v1/models/smol/unload", "", "application/json"), 409, nullptr, "model_busy");
  auto unloaded = cli.Post("/admin/v1/models/smol/unload?force=true", "", "application/json");
  ASSERT_TRUE(unloaded);
  ASSERT_EQ(unloaded->status, 200) << unloaded->body;
  EXPECT_STREQ(Json(unloaded->body)["state"].GetString(), "registered");
  EXPECT_TRUE(Json(unloaded->body)["worker"].IsNull());
  ExpectError(cli.Post("/admin/v1/models/smol/stage", "", "application/json"), 409, nullptr, "model_busy");
  auto staged = cli.Post("/admin/v1/models/smol/stage?force=true", "", "application/json");
  ASSERT_TRUE(staged);
  ASSERT_EQ(staged->status, 200) << staged->body;
  EXPECT_STREQ(Json(staged->body)["state"].GetString(), "staged");
  EXPECT_TRUE(Json(staged->body)["staged"].GetBool());
  EXPECT_EQ(Json(staged->body)["staged_bytes"].GetUint64(), 1234u);
  models_.staging_full = true;
  ExpectError(cli.Post("/admin/v1/models/smol/stage?force=true", "", "application/json"), 409, nullptr,
              "staging_full");
  models_.staging_full = false;
  ExpectError(cli.Post("/admin/v1/models/ghost/stage", "", "application/json"), 404, "model", "model_not_found");
  auto del = cli.Delete("/admin/v1/models/smol?force=true");
  ASSERT_TRUE(del);
  ASSERT_EQ(del->status, 200) << del->body;
  EXPECT_TRUE(Json(del->body)["deleted"].GetBool());
  EXPECT_TRUE(models_.last_forced);
  ExpectError(cli.Delete("/admin/v1/models/ghost"), 404, "model", "model_not_found");

  auto pin = cli.Post("/admin/v1/models/smol/pin", "", "application/json");
  ASSERT_TRUE(pin);
  ASSERT_EQ(pin->status, 200) << pin->body;
  EXPECT_TRUE(Json(pin->body)["pinned"].GetBool());
  EXPECT_TRUE(models_.smol.pinned);
  ASSERT_EQ(cli.Post("/admin/v1/models/smol/unpin", "", "application/json")->status, 200);
  EXPECT_FALSE(models_.smol.pinned);
  ASSERT_EQ(cli.Post("/admin/v1/models/smol/load", "", "application/json")->status, 200);
  ExpectError(cli.Post("/admin/v1/models/ghost/load", "", "application/json"), 404, "model", "model_not_found");
}

// The placement-by-forecast fields of a model object: the forecast, the plan and the prewarm
// counts, as the registry reports them; planned_state is null when there is no plan.
TEST_F(AdminRoutesTest, ModelObjectsCarryTheForecastAndThePrewarmCounts) {
  ModelStatus& smol = models_.smol;
  smol.predicted_avg = 1.25;
  smol.predicted_peak = 3;
  smol.predicted_arrivals = 7.5;
  smol.observed_avg = 0.5;
  smol.observed_peak = 2;
  smol.score = 0.84;
  smol.planned_state = "staged";
  smol.batch_size = 16;
  smol.prewarm_actions = 5;
  smol.prewarm_hits = 3;
  smol.prewarm_waste = 1;
  auto cli = Client();
  auto r = cli.Get("/admin/v1/models");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto list = Json(r->body);
  auto pinned = cli.Post("/admin/v1/models/smol/pin", "", "application/json");  // one model, as actions answer it
  ASSERT_TRUE(pinned);
  ASSERT_EQ(pinned->status, 200) << pinned->body;
  auto one = Json(pinned->body);
  const rapidjson::Value& listed = list["data"][0];
  for (const rapidjson::Value* m : {&listed, static_cast<const rapidjson::Value*>(&one)}) {
    const rapidjson::Value& d = *m;
    EXPECT_DOUBLE_EQ(d["predicted_avg"].GetDouble(), 1.25) << r->body;
    EXPECT_DOUBLE_EQ(d["predicted_peak"].GetDouble(), 3);
    EXPECT_DOUBLE_EQ(d["predicted_arrivals"].GetDouble(), 7.5);
    EXPECT_DOUBLE_EQ(d["observed_avg"].GetDouble(), 0.5);
    EXPECT_DOUBLE_EQ(d["observed_peak"].GetDouble(), 2);
    EXPECT_DOUBLE_EQ(d["score"].GetDouble(), 0.84);
    ASSERT_TRUE(d["planned_state"].IsString()) << r->body;
    EXPECT_STREQ(d["planned_state"].GetString(), "staged");
    EXPECT_EQ(d["batch_size"].GetInt(), 16);
    EXPECT_EQ(d["prewarm_actions"].GetInt64(), 5);
    EXPECT_EQ(d["prewarm_hits"].GetInt64(), 3);
    EXPECT_EQ(d["prewarm_waste"].GetInt64(), 1);
  }

  smol.planned_state = "";  // policy lru
  r = cli.Get("/admin/v1/models");
  ASSERT_TRUE(r);
  EXPECT_TRUE(Json(r->body)["data"][0]["planned_state"].IsNull()) << r->body;
}

// The history's "error" object is the forecaster's mean absolute error against next = last
// over the windows returned, with the recorder's options (a period of two windows here: the
// forecaster follows the alternation, the naive predictor is off by 2 every window).
TEST_F(AdminRoutesTest, HistoryEvaluatesTheForecasterOverItsWindows) {
  std::vector<scheduler::WindowLoad> series;
  for (int i = 0; i < 8; ++i) {
    const double load = i % 2 == 0 ? 1 : 3;
    history_.windows.push_back({"smol", 600 + 60 * i, 60, load, load + 1, 2});
    series.push_back({load, load + 1});
  }
  history_.forecast = scheduler::PredictNext(series, forecast_options_);
  auto cli = Client();
  auto r = cli.Get("/admin/v1/models/smol/history");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto d = Json(r->body);
  ASSERT_EQ(d["windows"].Size(), 8u) << r->body;
  ASSERT_TRUE(d.HasMember("error") && d["error"].IsObject()) << r->body;
  const rapidjson::Value& e = d["error"];
  const scheduler::ForecastError expected = scheduler::Evaluate(series, forecast_options_);
  EXPECT_EQ(e["windows"].GetInt64(), 7) << r->body;
  EXPECT_DOUBLE_EQ(e["avg"].GetDouble(), expected.avg) << r->body;
  EXPECT_DOUBLE_EQ(e["peak"].GetDouble(), expected.peak) << r->body;
  EXPECT_DOUBLE_EQ(e["naive_avg"].GetDouble(), 2) << r->body;
  EXPECT_DOUBLE_EQ(e["naive_peak"].GetDouble(), 2) << r->body;
  // The options matter: with the default day-long period the forecaster does worse here.
  EXPECT_LT(expected.avg, scheduler::Evaluate(series).avg);

  // Over the windows returned: ?limit=3 compares two.
  r = cli.Get("/admin/v1/models/smol/history?limit=3");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Json(r->body)["error"]["windows"].GetInt64(), 2) << r->body;

  // A registered model with no windows yet: nothing to compare, all zeros.
  history_.windows.clear();
  r = cli.Get("/admin/v1/models/smol/history");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  d = Json(r->body);
  EXPECT_EQ(d["error"]["windows"].GetInt64(), 0) << r->body;
  EXPECT_DOUBLE_EQ(d["error"]["naive_avg"].GetDouble(), 0) << r->body;
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

// A million '[' once overflowed the stack of a recursive parser and killed hearthd.
TEST_F(AdminRoutesTest, DeeplyNestedBodiesAreRefusedNotFatal) {
  auto cli = Client();
  const std::string deep(1'000'000, '[');
  for (const char* path : {"/admin/v1/drain", "/admin/v1/models", "/admin/v1/preempt"}) {
    auto r = cli.Post(path, deep, "application/json");
    ExpectError(r, 400, nullptr);
    EXPECT_NE(r->body.find("nested deeper than"), std::string::npos) << path << ": " << r->body;
  }
  EXPECT_FALSE(draining_);
  // Still serving.
  auto r = cli.Post("/admin/v1/drain", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// "/m.gguf\u0000.txt" was once registered as "/m.gguf".
TEST_F(AdminRoutesTest, APathWithANulByteIsRefusedNotCut) {
  auto cli = Client();
  auto r = cli.Post("/admin/v1/models", R"({"name":"x","path":"/m.gguf\u0000.txt"})", "application/json");
  ExpectError(r, 400, "path");
  EXPECT_NE(r->body.find("NUL"), std::string::npos) << r->body;
}

TEST_F(AdminRoutesTest, ALoneSurrogateIsRefusedAndNotEchoed) {
  auto cli = Client();
  auto r = cli.Post("/admin/v1/models", R"({"name":"\udc00","path":"/x.gguf"})", "application/json");
  ExpectError(r, 400, nullptr);
  EXPECT_NE(r->body.find("not valid UTF-8"), std::string::npos) << r->body;
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
