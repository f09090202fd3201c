// Issue 8's swap test: three models (SmolLM2 Q4_1, its F16 export and a random model) under a
// memory budget that holds two. Seeded requests to all three, three rounds of one concurrent
// request per model, complete with the same text as when each model is served alone; models
// were evicted, and never one with requests (every request ends well, and no sample of the
// admin list shows a model leaving "warm" while it has requests). And a model added through the
// admin API survives a restart.
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "tests/model_path.h"
#include "tests/test_process.h"
#include "tools/random_model.h"

namespace hearth::testing {
namespace {

constexpr int kRounds = 3;
const char* const kModels[] = {"q4", "f16", "rand"};

std::string F16Path() {
  std::string p = DefaultModelPath();
  const size_t at = p.find("Q4_1");
  return at == std::string::npos ? "" : p.replace(at, 4, "F16");
}

rapidjson::Document Json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  return d;
}

// One hearthd serving the three models, with or without a budget.
class Hearthd {
 public:
  Hearthd(const std::string& dir, const std::map<std::string, std::string>& models, uint64_t budget,
          uint64_t staged_budget = 0) {
    port_ = FreePort();
    admin_port_ = FreePort();
    const std::string config = dir + "/hearth.toml";
    std::ofstream out(config);
    out << "[scheduler]\ntoken_budget = 128\n";  // no profile at each load
    out << "[workers]\nmemory_budget_bytes = " << budget << "\nstaged_budget_bytes = " << staged_budget
        << "\nmodel_wait_seconds = 300\n[models]\n";
    for (const auto& [name, path] : models) out << name << " = \"" << path << "\"\n";
    out.close();
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{BinaryPath("hearthd"), "--listen", "127.0.0.1:" + std::to_string(port_),
                                 "--admin-listen", "127.0.0.1:" + std::to_string(admin_port_), "--data-dir",
                                 dir + "/data", "--config", config, "--threads", "2"},
        dir + "/hearthd.log");
    for (int i = 0; i < 1200 && HttpGet(port_, "/readyz").status != 200; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  bool ready() { return HttpGet(port_, "/readyz").status == 200; }
  std::string Log() { return process_->Log(); }

  // A seeded completion; "" with the failure in `error`.
  std::string Complete(const std::string& model, int seed, std::string* error) {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(600, 0);
    const std::string body = "{\"model\":\"" + model + "\",\"prompt\":\"Once upon a time, in a land far away,\"" +
                             ",\"max_tokens\":16,\"temperature\":0.8,\"seed\":" + std::to_string(seed) + "}";
    auto r = c.Post("/v1/completions", body, "application/json");
    if (!r || r->status != 200) {
      *error = r ? std::to_string(r->status) + " " + r->body : "no answer";
      return "";
    }
    rapidjson::Document d = Json(r->body);
    const rapidjson::Value& choice = d["choices"][0];
    if (std::string(choice["finish_reason"].GetString()) == "error") *error = "finish_reason error";
    return choice["text"].GetString();
  }
  rapidjson::Document Models() { return Json(HttpGet(admin_port_, "/admin/v1/models").body); }
  httplib::Result Admin(const std::string& method, const std::string& path, const std::string& body = "") {
    httplib::Client c("127.0.0.1", admin_port_);
    c.set_read_timeout(600, 0);
    if (method == "DELETE") return c.Delete(path);
    return c.Post(path, body, "application/json");
  }
  std::string Metrics() { return HttpGet(port_, "/metrics").body; }

 private:
  int port_ = 0, admin_port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

TEST(ModelSwapTest, ThreeModelsUnderABudgetForTwoGiveTheTextOfEachAlone) {
  if (!DefaultModelPresent() || !std::filesystem::exists(F16Path())) {
    GTEST_SKIP() << "needs " << DefaultModelPath() << " and " << F16Path();
  }
  const std::string dir = TempDir();
  tools::RandomModelOptions random;
  random.layers = 2;
  random.hidden = 64;
  random.heads = 4;
  random.kv_heads = 2;
  random.ffn = 128;
  random.ctx = 2048;
  random.seed = 8;
  random.tokenizer_from = DefaultModelPath();
  random.out = dir + "/random.gguf";
  ASSERT_TRUE(tools::WriteRandomModel(random).ok());
  const std::map<std::string, std::string> models = {
      {"q4", DefaultModelPath()}, {"f16", F16Path()}, {"rand", random.out}};

  // Each model alone, one request at a time, no budget; and what each one costs.
  std::map<std::pair<std::string, int>, std::string> alone;
  std::map<std::string, uint64_t> bytes;
  {
    std::filesystem::create_directories(dir + "/alone");
    Hearthd d(dir + "/alone", models, 0);
    ASSERT_TRUE(d.ready()) << d.Log();
    for (const char* m : kModels) {
      for (int round = 0; round < kRounds; ++round) {
        std::string error;
        alone[{m, round}] = d.Complete(m, 100 + round, &error);
        ASSERT_TRUE(error.empty()) << m << ": " << error;
        EXPECT_FALSE((alone[{m, round}].empty())) << m;
      }
    }
    rapidjson::Document list = d.Models();
    for (const auto& m : list["data"].GetArray()) bytes[m["name"].GetString()] = m["bytes"].GetUint64();
  }
  ASSERT_EQ(bytes.size(), 3u);
  uint64_t total = 0, smallest = UINT64_MAX;
  for (const auto& [name, b] : bytes) {
    total += b;
    smallest = std::min(smallest, b);
  }
  const uint64_t budget = total - smallest / 2;  // any two fit, all three do not
  uint64_t files = 0;
  for (const auto& [name, path] : models) files += std::filesystem::file_size(path);

  // Staging holds every file: an evicted model is swapped out to a host copy and back in.
  std::filesystem::create_directories(dir + "/swap");
  Hearthd d(dir + "/swap", models, budget, files);
  ASSERT_TRUE(d.ready()) << d.Log();
  int warm = 0;
  for (const auto& m : d.Models()["data"].GetArray()) warm += std::string(m["state"].GetString()) == "warm";
  EXPECT_EQ(warm, 2) << "the budget holds two models";

  // A watcher samples the admin list: a model that is not warm must have no requests.
  std::atomic<bool> done{false};
  std::atomic<int> samples{0}, violations{0};
  std::string violation;
  std::thread watcher([&] {
    while (!done) {
      rapidjson::Document list = d.Models();
      if (list.IsObject() && list.HasMember("data")) {
        for (const auto& m : list["data"].GetArray()) {
          if (std::string(m["state"].GetString()) != "warm" && m["active_requests"].GetInt64() > 0) {
            if (violations++ == 0) violation = m["name"].GetString();
          }
        }
        ++samples;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::mutex mu;
  std::map<std::pair<std::string, int>, std::string> swapped;
  std::vector<std::string> errors;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::thread> clients;
    for (const char* m : kModels) {
      clients.emplace_back([&, m = std::string(m), round] {
        std::string error;
        std::string text = d.Complete(m, 100 + round, &error);
        std::lock_guard<std::mutex> lock(mu);
        swapped[{m, round}] = text;
        if (!error.empty()) errors.push_back(m + ": " + error);
      });
    }
    for (std::thread& t : clients) t.join();
  }
  done = true;
  watcher.join();

  EXPECT_TRUE(errors.empty()) << errors.front() << "\n" << d.Log();
  for (const auto& [key, text] : alone) {
    EXPECT_EQ(swapped[key], text) << key.first << " round " << key.second;
  }
  EXPECT_GT(samples.load(), 0);
  EXPECT_EQ(violations.load(), 0) << violation << " was unloaded with requests";
  int64_t evictions = 0, swap_ins = 0, swap_outs = 0;
  for (const auto& m : d.Models()["data"].GetArray()) {
    evictions += m["evictions"].GetInt64();
    swap_ins += m["swap_ins"].GetInt64();
    swap_outs += m["swap_outs"].GetInt64();
  }
  EXPECT_GE(evictions, 1) << "three models under a budget for two must swap";
  EXPECT_GE(swap_outs, 1) << "evictions go to staged";
  EXPECT_GE(swap_ins, 1) << "an evicted model comes back from its staged copy";
  std::printf("budget %llu bytes, %lld evictions, %lld swap-outs, %lld swap-ins, %d samples of the admin list\n",
              static_cast<unsigned long long>(budget), static_cast<long long>(evictions),
              static_cast<long long>(swap_outs), static_cast<long long>(swap_ins), samples.load());
  const std::string metrics = d.Metrics();
  EXPECT_NE(metrics.find("hearth_model_evictions_total{model="), std::string::npos);
  EXPECT_NE(metrics.find("kind=\"swap_in\""), std::string::npos) << "hearth_model_swaps_total by kind";
  std::filesystem::remove_all(dir);
}

// A model added through the admin API is stored: a restart on the same data directory registers
// and loads it again, pin included; removing it removes it for good.
TEST(ModelSwapTest, AddedModelsSurviveARestart) {
  if (!DefaultModelPresent()) GTEST_SKIP() << "needs " << DefaultModelPath();
  const std::string dir = TempDir();
  std::filesystem::create_directories(dir + "/data");
  const std::map<std::string, std::string> configured = {{"q4", DefaultModelPath()}};
  auto state_of = [](Hearthd& d, const std::string& name) -> std::string {
    rapidjson::Document list = d.Models();
    if (!list.IsObject() || !list.HasMember("data")) return "no list";
    for (const auto& m : list["data"].GetArray()) {
      if (name == m["name"].GetString()) {
        return std::string(m["state"].GetString()) + (m["pinned"].GetBool() ? ",pinned" : "") + "," +
               m["source"].GetString();
      }
    }
    return "absent";
  };
  {
    Hearthd d(dir, configured, 0);
    ASSERT_TRUE(d.ready()) << d.Log();
    auto added = d.Admin("POST", "/admin/v1/models",
                         "{\"name\":\"again\",\"path\":\"" + DefaultModelPath() + "\",\"pinned\":true}");
    ASSERT_TRUE(added);
    ASSERT_EQ(added->status, 200) << added->body;
    EXPECT_EQ(state_of(d, "again"), "warm,pinned,admin");
    std::string error;
    EXPECT_FALSE(d.Complete("again", 1, &error).empty()) << error;
  }  // SIGKILL: the row was committed before the answer
  {
    Hearthd d(dir, configured, 0);
    ASSERT_TRUE(d.ready()) << d.Log();
    EXPECT_EQ(state_of(d, "again"), "warm,pinned,admin");
    EXPECT_EQ(state_of(d, "q4"), "warm,config");
    auto removed = d.Admin("DELETE", "/admin/v1/models/again");
    ASSERT_TRUE(removed);
    ASSERT_EQ(removed->status, 200) << removed->body;
  }
  Hearthd d(dir, configured, 0);
  ASSERT_TRUE(d.ready()) << d.Log();
  EXPECT_EQ(state_of(d, "again"), "absent");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hearth::testing
