// The model registry against an in-process worker and a running engine loop, on three small
// random models under a memory budget that holds two: loads at start, reactive loads with LRU
// eviction, pins and busy models kept, the same tokens as a model served alone, add/remove
// persisted in the store, and the loader's errors.
#include "daemon/models/model_registry.h"
#include "daemon/models/placing_engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "daemon/testing/recording_sink.h"
#include "gpu_worker/step_executor.h"
#include "store/database.h"
#include "tools/random_model.h"

namespace hearth::daemon {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kKvBytes = 64 << 10;

class InProcessWorker : public WorkerConnection {
 public:
  StatusOr<wire::LoadStatus> BeginLoad(const wire::LoadModelRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    return executor_.BeginLoad(request);
  }
  StatusOr<wire::LoadStatus> PollLoad(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (name == held_) return wire::LoadStatus{name, 0, 1, false};  // reads on until let go
    return executor_.PollLoad(name);
  }
  // Loads of `name` read on (PollLoad never says finished) until Hold("").
  void Hold(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    held_ = name;
  }
  // Models unloaded, in order (a cancelled load is unloaded).
  std::vector<std::string> unloaded() {
    std::lock_guard<std::mutex> lock(mu_);
    return unloaded_;
  }
  StatusOr<wire::ModelInfo> FinishLoad(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    return executor_.FinishLoad(name);
  }
  StatusOr<wire::StepReply> Step(const wire::StepRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    return executor_.Step(request);
  }
  Status UnloadModel(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    unloaded_.push_back(name);
    executor_.UnloadModel(name);
    return Status::Ok();
  }
  StatusOr<wire::StagedInfo> StageModel(const wire::LoadModelRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    return executor_.StageModel(request);
  }

 private:
  std::mutex mu_;  // the socket serializes calls to a real worker
  worker::StepExecutor executor_{2, kKvBytes};
  std::string held_;
  std::vector<std::string> unloaded_;
};

class ModelRegistryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    for (int i = 0; i < 3; ++i) {
      StatusOr<std::string> path = tools::WriteSmallTestModel("registry" + std::to_string(i), 100 + i);
      ASSERT_TRUE(path.ok()) << path.status().ToString();
      paths_[i] = *path;
    }
  }
  static void TearDownTestSuite() {
    for (const std::string& p : paths_) std::filesystem::remove(p);
  }

  void SetUp() override {
    db_path_ =
        (std::filesystem::temp_directory_path() / ("registry_test_" + std::to_string(::getpid()) + ".db")).string();
    std::filesystem::remove(db_path_);
    auto db = store::Database::Open(db_path_, {store::SyncMode::kNormal});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    store_ = std::make_unique<store::ModelStore>(db_.get());
    // Each model costs its file and its KV cache in whole pool pages: two fit, three do not.
    const uint64_t page = wire::kPoolPageBytes;
    const uint64_t model = (std::filesystem::file_size(paths_[0]) + page - 1) / page * page + page;
    budget_ = 2 * model + page / 2;
    engine_.Start();
  }
  void TearDown() override {
    if (registry_) registry_->Stop();
    engine_.Stop();
    registry_.reset();
    store_.reset();
    db_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db_path_ + suffix);
  }

  void MakeRegistry(uint64_t budget, std::chrono::milliseconds wait = 20s, uint64_t staged_budget = 0,
                    bool forecast = false, std::chrono::milliseconds keep_recent = 0ms) {
    ModelRegistryOptions o;
    o.forecast_placement = forecast;
    o.prewarm_keeps_recent = keep_recent;
    o.memory_budget_bytes = budget;
    o.staged_budget_bytes = staged_budget;
    o.wait_for_room = wait;
    o.token_budget = 64;
    registry_ = std::make_unique<ModelRegistry>(&worker_, &engine_, store_.get(), nullptr, o);
    placing_ = std::make_unique<PlacingEngine>(registry_.get());
  }
  static std::map<std::string, std::string> ThreeModels() {
    return {{"a", paths_[0]}, {"b", paths_[1]}, {"c", paths_[2]}};
  }

  std::map<std::string, ModelStatus> States() {
    std::map<std::string, ModelStatus> out;
    for (const ModelStatus& m : registry_->List()) out[m.name] = m;
    return out;
  }

  static GenerationRequest Request(const std::string& model, int32_t max_tokens, uint64_t seed) {
    GenerationRequest r;
    r.model = model;
    r.prompt = {1, 5, 9, 20, 33};
    r.max_tokens = max_tokens;
    r.sampling.temperature = 0.8f;
    r.sampling.seed = seed;
    return r;
  }
  std::shared_ptr<RecordingSink> Submit(GenerationRequest r) {
    auto sink = std::make_shared<RecordingSink>();
    StatusOr<uint64_t> id = placing_->Submit(std::move(r), sink);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    return sink;
  }

  static std::string paths_[3];
  std::string db_path_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<store::ModelStore> store_;
  uint64_t budget_ = 0;
  InProcessWorker worker_;
  EngineLoop engine_{&worker_};
  std::unique_ptr<ModelRegistry> registry_;
  std::unique_ptr<PlacingEngine> placing_;
};

std::string ModelRegistryTest::paths_[3];

TEST_F(ModelRegistryTest, StartLoadsWhatFitsAndARequestSwapsInTheColdOne) {
  MakeRegistry(budget_);
  ASSERT_TRUE(registry_->Start(ThreeModels()).ok());
  auto s = States();
  EXPECT_EQ(s["a"].state, "warm");
  EXPECT_EQ(s["b"].state, "warm");
  EXPECT_EQ(s["c"].state, "registered");
  EXPECT_EQ(s["a"].source, "config");
  EXPECT_NE(registry_->tokenizer("c"), nullptr) << "a cold model still tokenizes";
  EXPECT_GT(placing_->context_length("c"), 0);

  auto sink = Submit(Request("c", 4, 1));  // waits for c to load; a (least recently used) goes
  ASSERT_TRUE(sink->WaitFinished());
  EXPECT_TRUE(sink->finish().status.ok()) << sink->finish().status.ToString();
  s = States();
  EXPECT_EQ(s["a"].state, "registered");
  EXPECT_EQ(s["a"].evictions, 1);
  EXPECT_EQ(s["b"].state, "warm");
  EXPECT_EQ(s["c"].state, "warm");
  EXPECT_EQ(s["c"].loads, 1);
  EXPECT_EQ(registry_->num_warm(), 2);
}

TEST_F(ModelRegistryTest, BusyAndPinnedModelsAreNeverEvicted) {
  MakeRegistry(budget_, 300ms);
  ASSERT_TRUE(registry_->Start(ThreeModels()).ok());
  bool cold = false;
  ASSERT_TRUE(registry_->Acquire("a", &cold).ok());
  ASSERT_TRUE(registry_->SetPinned("b", true).ok());
  // a has a request and b is pinned: no room for c, and the wait ends Unavailable.
  Status st = registry_->Acquire("c", &cold);
  EXPECT_EQ(st.code(), Status::Code::kUnavailable) << st.ToString();
  EXPECT_EQ(States()["a"].state, "warm");
  EXPECT_EQ(States()["b"].state, "warm");
  // The request ends: a can go now, b still cannot.
  registry_->Release("a");
  ASSERT_TRUE(registry_->Acquire("c", &cold).ok());
  EXPECT_TRUE(cold);
  auto s = States();
  EXPECT_EQ(s["a"].state, "registered");
  EXPECT_EQ(s["b"].state, "warm");
  EXPECT_EQ(s["b"].evictions, 0);
  registry_->Release("c");
}

TEST_F(ModelRegistryTest, InterleavedRequestsGiveTheTokensOfEachModelAlone) {
  // Each model alone, no budget.
  MakeRegistry(0);
  ASSERT_TRUE(registry_->Start(ThreeModels()).ok());
  std::map<std::string, std::vector<int32_t>> alone;
  for (const char* m : {"a", "b", "c"}) {
    auto sink = Submit(Request(m, 12, 7));
    ASSERT_TRUE(sink->WaitFinished());
    alone[m] = sink->tokens();
    ASSERT_EQ(alone[m].size(), 12u) << m;
  }
  EXPECT_NE(alone["a"], alone["b"]);
  for (const char* m : {"a", "b", "c"}) ASSERT_TRUE(registry_->Remove(m, false).ok());

  // Again under the budget of two, interleaved from three threads, twice each.
  registry_->Stop();
  MakeRegistry(budget_);
  ASSERT_TRUE(registry_->Start(ThreeModels()).ok());
  std::map<std::string, std::vector<std::vector<int32_t>>> got;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (const char* m : {"c", "a", "b"}) {
    threads.emplace_back([&, m = std::string(m)] {
      for (int round = 0; round < 2; ++round) {
        auto sink = Submit(Request(m, 12, 7));
        ASSERT_TRUE(sink->WaitFinished());
        EXPECT_TRUE(sink->finish().status.ok()) << m << ": " << sink->finish().status.ToString();
        std::lock_guard<std::mutex> lock(mu);
        got[m].push_back(sink->tokens());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const char* m : {"a", "b", "c"}) {
    ASSERT_EQ(got[m].size(), 2u) << m;
    for (const auto& tokens : got[m]) EXPECT_EQ(tokens, alone[m]) << m;
  }
  int64_t evictions = 0;
  for (const auto& [name, s] : States()) evictions += s.evictions;
  EXPECT_GE(evictions, 1) << "three models under a budget of two must swap";
}

// With staging on, an evicted model is swapped out to a host copy and swaps back in from it
// with the same tokens; copies that make room for another are the least recently used ones
// whose models are not warm.
TEST_F(ModelRegistryTest, EvictedModelsAreStagedAndSwapBackIn) {
  const uint64_t file = std::filesystem::file_size(paths_[0]);
  MakeRegistry(budget_, 20s, /*staged_budget=*/2 * file + file / 2);  // two copies
  ASSERT_TRUE(registry_->Start(ThreeModels()).ok());
  auto first = Submit(Request("a", 8, 3));
  ASSERT_TRUE(first->WaitFinished());
  const std::vector<int32_t> a_tokens = first->tokens();
  ASSERT_EQ(a_tokens.size(), 8u);

  auto c = Submit(Request("c", 4, 1));  // b is the least recently used: it goes to staged
  ASSERT_TRUE(c->WaitFinished());
  auto s = States();
  EXPECT_EQ(s["b"].state, "staged");
  EXPECT_TRUE(s["b"].staged);
  EXPECT_EQ(s["b"].staged_bytes, file);
  EXPECT_EQ(s["b"].swap_outs, 1);
  EXPECT_EQ(s["b"].evictions, 1);
  EXPECT_EQ(s["c"].swap_ins, 0) << "c was read from its file";

  auto b = Submit(Request("b", 4, 1));  // b swaps in; a (least recently used) goes to staged
  ASSERT_TRUE(b->WaitFinished());
  EXPECT_TRUE(b->finish().status.ok()) << b->finish().status.ToString();
  auto again = Submit(Request("a", 8, 3));  // a swaps in; c goes, but staging is full of warm copies
  ASSERT_TRUE(again->WaitFinished());
  EXPECT_EQ(again->tokens(), a_tokens) << "swapped in from the staged copy, same tokens";
  s = States();
  EXPECT_EQ(s["a"].state, "warm");
  EXPECT_EQ(s["a"].swap_ins, 1);
  EXPECT_EQ(s["a"].loads, 2);
  EXPECT_TRUE(s["a"].staged) << "the copy is kept while warm";
  EXPECT_EQ(s["b"].state, "warm");
  EXPECT_EQ(s["b"].swap_ins, 1);
  EXPECT_EQ(s["c"].state, "registered") << "no room for a third copy: unloaded";
  EXPECT_FALSE(s["c"].staged);

  // Stage c by hand: room is made by dropping no warm model's copy, so it does not fit.
  EXPECT_EQ(registry_->Stage("c", false).status().code(), Status::Code::kResourceExhausted);
  // Unload b (copy and all), then c stages; swapping a out keeps its copy.
  ASSERT_TRUE(registry_->Unload("b", false).ok());
  EXPECT_FALSE(States()["b"].staged);
  StatusOr<ModelStatus> staged = registry_->Stage("c", false);
  ASSERT_TRUE(staged.ok()) << staged.status().ToString();
  EXPECT_EQ(staged->state, "staged");
  StatusOr<ModelStatus> out = registry_->Stage("a", false);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->state, "staged");
  EXPECT_EQ(out->swap_outs, 2) << "evicted once for b, then by hand";
  // Busy: refused unless forced.
  bool cold = false;
  ASSERT_TRUE(registry_->Acquire("a", &cold).ok());
  EXPECT_TRUE(cold);
  EXPECT_EQ(registry_->Stage("a", false).status().code(), Status::Code::kFailedPrecondition);
  registry_->Release("a");
  EXPECT_EQ(registry_->Stage("nope", false).status().code(), Status::Code::kNotFound);
}

// Requests that waited together for a model's load are counted together: a drain that starts
// for another model's load right after the first is counted turns away no waiting request.
TEST_F(ModelRegistryTest, WaitingRequestsAreCountedEvenWhileTheirModelDrains) {
  MakeRegistry(budget_, 20s);
  ASSERT_TRUE(registry_->Start(ThreeModels()).ok());  // a and b warm
  ASSERT_TRUE(registry_->SetPinned("b", true).ok());
  bool cold = false;
  ASSERT_TRUE(registry_->Acquire("a", &cold).ok());  // the first of a's waiting requests
  Status c_status;
  std::thread load_c([&] {
    bool c_cold = false;
    c_status = registry_->Acquire("c", &c_cold);  // no room: a is drained, c waits
    if (c_status.ok()) registry_->Release("c");
  });
  while (registry_->TryAcquireWarm("a")) {  // until the drain turns new requests away
    registry_->Release("a");
    std::this_thread::sleep_for(2ms);
  }
  registry_->AcquireMore("a", 2);  // the other two waiting requests
  EXPECT_EQ(States()["a"].active_requests, 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(States()["a"].state, "warm") << "counted requests keep it";
    registry_->Release("a");
  }
  load_c.join();
  EXPECT_TRUE(c_status.ok()) << c_status.ToString();
  EXPECT_EQ(States()["a"].state, "registered");
  EXPECT_EQ(States()["c"].state, "warm");
}

// Forecasts with these scores (everything else 0).
std::vector<ModelForecast> Scores(std::map<std::string, double> scores) {
  std::vector<ModelForecast> out;
  for (const auto& [name, score] : scores) {
    ModelForecast f;
    f.name = name;
    f.score = score;
    f.predicted_avg = f.predicted_peak = score > 0 ? 1 : 0;
    out.push_back(f);
  }
  return out;
}

TEST_F(ModelRegistryTest, PrewarmFillsThePoolByScoreAndCountsHitsAndWaste) {
  MakeRegistry(budget_, 20s, 0, /*forecast=*/true);
  ASSERT_TRUE(registry_->Start(ThreeModels()).ok());  // a and b warm
  registry_->SetForecasts(Scores({{"a", 1}, {"b", 0.5}, {"c", 5}}));
  // c outranks b: b goes, then c loads; then nothing is left to do.
  ASSERT_TRUE(registry_->PrewarmStep());
  EXPECT_EQ(States()["b"].state, "registered");
  ASSERT_TRUE(registry_->PrewarmStep());
  EXPECT_FALSE(registry_->PrewarmStep());
  auto s = States();
  EXPECT_EQ(s["a"].state, "warm");
  EXPECT_EQ(s["c"].state, "warm");
  EXPECT_EQ(s["c"].planned_state, "warm");
  EXPECT_EQ(s["b"].planned_state, "disk");
  EXPECT_EQ(s["b"].prewarm_actions, 1);
  EXPECT_EQ(s["c"].prewarm_actions, 1);
  EXPECT_EQ(s["c"].score, 5);
  EXPECT_EQ(s["c"].prewarm_hits, 0);
  // A request finds c warm because of the prewarm: a hit, once.
  auto first = Submit(Request("c", 2, 1));
  ASSERT_TRUE(first->WaitFinished());
  auto second = Submit(Request("c", 2, 1));
  ASSERT_TRUE(second->WaitFinished());
  EXPECT_EQ(States()["c"].prewarm_hits, 1);
  EXPECT_EQ(States()["c"].loads, 1) << "no cold start for the request";
  // The engine counts c's requests until its next iteration: until then c is busy, and stays.
  while (engine_.NumUnfinished("c") > 0) std::this_thread::sleep_for(1ms);

  // The forecast turns to b: c (used) and then a prewarmed b (never used) leave; the unused
  // one is waste, the used one is not.
  registry_->SetForecasts(Scores({{"a", 1}, {"b", 5}, {"c", 0}}));
  while (registry_->PrewarmStep()) {
  }
  s = States();
  EXPECT_EQ(s["b"].state, "warm");
  EXPECT_EQ(s["c"].state, "registered");
  EXPECT_EQ(s["c"].prewarm_waste, 0);
  registry_->SetForecasts(Scores({{"a", 1}, {"b", 0}, {"c", 5}}));
  while (registry_->PrewarmStep()) {
  }
  s = States();
  EXPECT_EQ(s["b"].state, "registered");
  EXPECT_EQ(s["b"].prewarm_waste, 1);
  EXPECT_EQ(s["b"].prewarm_hits, 0);
  EXPECT_EQ(s["a"].state, "warm") << "never evicted for a lower score";
  EXPECT_EQ(s["a"].prewarm_actions, 0);
}

TEST_F(ModelRegistryTest, PrewarmLeavesARecentlyUsedModelWarm) {
  // A model used within the last hour is kept from prewarms.
  MakeRegistry(budget_, 20s, 0, /*forecast=*/true, std::chrono::hours(1));
  ASSERT_TRUE(registry_->Start(ThreeModels()).ok());  // a and b warm, just loaded: recent
  registry_->SetForecasts(Scores({{"a", 1}, {"b", 0.5}, {"c", 5}}));
  EXPECT_FALSE(registry_->PrewarmStep()) << "both warm models were used just now";
  EXPECT_EQ(States()["c"].state, "registered");
  EXPECT_EQ(States()["c"].planned_state, "disk");
  // A request still evicts one for c.
  auto sink = Submit(Request("c", 1, 1));
  ASSERT_TRUE(sink->WaitFinished());
  EXPECT_EQ(States()["c"].state, "warm");
}

TEST_F(ModelRegistryTest, PrewarmNeverEvictsABusyOrPinnedModel) {
  MakeRegistry(budget_, 20s, 0, /*forecast=*/true);
  ASSERT_TRUE(registry_->Start(ThreeModels()).ok());
  bool cold = false;
  ASSERT_TRUE(registry_->Acquire("a", &cold).ok());  // a request on a
  ASSERT_TRUE(registry_->SetPinned("b", true).ok());
  registry_->SetForecasts(Scores({{"c", 9}}));
  EXPECT_FALSE(registry_->PrewarmStep()) << "no room, and nothing may go";
  auto s = States();
  EXPECT_EQ(s["a"].state, "warm");
  EXPECT_EQ(s["b"].state, "warm");
  EXPECT_EQ(s["c"].state, "registered");
  registry_->Release("a");
  ASSERT_TRUE(registry_->PrewarmStep());  // a is idle now: it goes for c
  EXPECT_EQ(States()["a"].state, "registered");
}

TEST_F(ModelRegistryTest, ScoresRankEvictionsOnlyUnderTheForecastPolicy) {
  for (bool forecast : {false, true}) {
    if (registry_) registry_->Stop();
    MakeRegistry(budget_, 20s, 0, forecast);
    ASSERT_TRUE(registry_->Start(ThreeModels()).ok());
    // b used last, but worth more than a... under lru, a is the one that stays.
    for (const char* m : {"a", "b"}) {
      auto sink = Submit(Request(m, 1, 1));
      ASSERT_TRUE(sink->WaitFinished());
    }
    for (const char* m : {"a", "b"}) {  // idle for the planner too (the engine counts until its next iteration)
      while (engine_.NumUnfinished(m) > 0) std::this_thread::sleep_for(1ms);
    }
    registry_->SetForecasts(Scores({{"a", 3}, {"b", 1}}));
    // lru runs no prewarm; under forecast a and b fit and c is worth nothing: nothing to do.
    EXPECT_FALSE(registry_->PrewarmStep()) << forecast;
    auto c = Submit(Request("c", 1, 1));
    ASSERT_TRUE(c->WaitFinished());
    auto s = States();
    EXPECT_EQ(s["a"].state, forecast ? "warm" : "registered") << forecast;
    EXPECT_EQ(s["b"].state, forecast ? "registered" : "warm") << forecast;
    EXPECT_EQ(s["a"].score, 3) << "shown under either policy";
    for (const char* m : {"a", "b", "c"}) ASSERT_TRUE(registry_->Remove(m, true).ok());
  }
}

TEST_F(ModelRegistryTest, ARequestCancelsAPrewarmLoadThatHoldsItsRoom) {
  MakeRegistry(budget_, 20s, 0, /*forecast=*/true);
  ASSERT_TRUE(registry_->Start(ThreeModels()).ok());  // a and b warm
  worker_.Hold("c");
  registry_->SetForecasts(Scores({{"a", 2}, {"b", 1}, {"c", 5}}));
  ASSERT_TRUE(registry_->PrewarmStep());  // b goes for c
  ASSERT_EQ(States()["b"].state, "registered");
  std::thread prewarm([&] { registry_->PrewarmStep(); });  // c's load reads on
  while (States()["c"].state != "loading") std::this_thread::sleep_for(5ms);
  // A request for b: c's prewarm gives its room up; b loads.
  auto b = Submit(Request("b", 2, 1));
  ASSERT_TRUE(b->WaitFinished());
  prewarm.join();
  EXPECT_TRUE(b->finish().status.ok()) << b->finish().status.ToString();
  auto s = States();
  EXPECT_EQ(s["b"].state, "warm");
  EXPECT_EQ(s["c"].state, "registered");
  EXPECT_EQ(s["c"].last_error, "") << "a cancelled prewarm is no error";
  EXPECT_EQ(s["c"].loads, 0);
  const std::vector<std::string> unloaded = worker_.unloaded();
  EXPECT_NE(std::find(unloaded.begin(), unloaded.end(), "c"), unloaded.end()) << "the worker dropped the read";
  worker_.Hold("");
}

TEST_F(ModelRegistryTest, AddPersistsRemoveRefusesBusyModels) {
  MakeRegistry(0);
  ASSERT_TRUE(registry_->Start({}).ok());
  StatusOr<ModelStatus> added = registry_->Add("x", paths_[0], /*pinned=*/true);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(added->state, "warm");
  EXPECT_TRUE(added->pinned);
  EXPECT_EQ(added->source, "admin");
  EXPECT_GT(added->bytes, 0u);
  // The same again is fine; the name from elsewhere is a conflict.
  EXPECT_TRUE(registry_->Add("x", paths_[0], true).ok());
  EXPECT_EQ(registry_->Add("x", paths_[1], false).status().code(), Status::Code::kFailedPrecondition);

  // The loader's words for what it cannot read, and nothing registered.
  const std::string junk = db_path_ + ".junk";
  std::ofstream(junk) << "not a model";
  Status bad = registry_->Add("junk", junk, false).status();
  EXPECT_EQ(bad.code(), Status::Code::kInvalidArgument) << bad.ToString();
  std::filesystem::remove(junk);
  EXPECT_EQ(registry_->Add("none", "/no/such.gguf", false).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(registry_->List().size(), 1u);

  // A restart finds x in the store.
  registry_->Stop();
  ASSERT_TRUE(engine_.RemoveModel("x", Status::Unavailable("test")).ok());
  MakeRegistry(0);
  ASSERT_TRUE(registry_->Start({}).ok());
  auto s = States();
  ASSERT_EQ(s.count("x"), 1u);
  EXPECT_EQ(s["x"].state, "warm");
  EXPECT_TRUE(s["x"].pinned);

  // Busy (a request holds it): refused unless forced.
  bool cold = true;
  ASSERT_TRUE(registry_->Acquire("x", &cold).ok());
  EXPECT_FALSE(cold);
  EXPECT_EQ(registry_->Remove("x", false).code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(registry_->Unload("x", false).status().code(), Status::Code::kFailedPrecondition);
  ASSERT_TRUE(registry_->Remove("x", true).ok());
  registry_->Release("x");
  EXPECT_TRUE(registry_->List().empty());
  EXPECT_TRUE(store_->List()->empty());
  EXPECT_EQ(registry_->Remove("x", false).code(), Status::Code::kNotFound);
  // A request for a model removed while it waited: not found (404), not a bad request.
  Status gone = registry_->Acquire("x", &cold);
  EXPECT_EQ(gone.code(), Status::Code::kNotFound) << gone.ToString();
}

}  // namespace
}  // namespace hearth::daemon
