// Several universal workers on one node ([workers] count = 2, one CPU thread each): two models
// configured at start go warm on different workers, their requests run concurrently with the
// text each gives alone, and a SIGKILL of one worker during streams on both leaves the other
// worker's streams undisturbed (same text, no restart of that worker) while the killed
// worker's streams finish after its restart with their uninterrupted text.
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/model_path.h"
#include "tests/test_process.h"

namespace hearth::testing {
namespace {

using namespace std::chrono_literals;

rapidjson::Document Json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  return d;
}

std::string Body(const std::string& model, int seed, int max_tokens) {
  return "{\"model\":\"" + model +
         "\",\"prompt\":\"A letter from the harbour master:\",\"max_tokens\":" + std::to_string(max_tokens) +
         ",\"temperature\":0.8,\"seed\":" + std::to_string(seed) + ",\"stream\":true}";
}

// The text of an SSE completion stream; "<...>" when it carried an error or did not end.
std::string StreamText(const std::string& body) {
  std::string text;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    const size_t end = body.find('\n', pos);
    const std::string data = body.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") return text;
    rapidjson::Document d = Json(data);
    if (d.HasParseError() || d.HasMember("error")) return "<error: " + data.substr(0, 200) + ">";
    if (d.HasMember("choices") && !d["choices"].Empty() && d["choices"][0].HasMember("text")) {
      text += d["choices"][0]["text"].GetString();
    }
  }
  return "<unfinished>";
}

class MultiWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!DefaultModelPresent()) GTEST_SKIP() << "no model at " << DefaultModelPath();
    dir_ = TempDir();
    port_ = FreePort();
    admin_port_ = FreePort();
    std::ofstream(dir_ + "/hearth.toml") << "worker_threads = 1\n[scheduler]\ntoken_budget = 128\n"
                                         << "[workers]\ncount = 2\n[models]\nfirst = \"" << DefaultModelPath()
                                         << "\"\nsecond = \"" << DefaultModelPath() << "\"\n";
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{BinaryPath("hearthd"), "--config", dir_ + "/hearth.toml", "--listen",
                                 "127.0.0.1:" + std::to_string(port_), "--admin-listen",
                                 "127.0.0.1:" + std::to_string(admin_port_), "--data-dir", dir_ + "/data"},
        dir_ + "/hearthd.log");
    ready_ = WaitHealthy(port_, 120000);
  }
  void TearDown() override {
    if (process_) {
      process_->Signal(SIGTERM);
      process_->Wait(60000);
    }
  }

  rapidjson::Document Status() { return Json(HttpGet(admin_port_, "/admin/v1/status").body); }

  // Runs the streams given as (model, seed) at once; `during` runs once every stream has its
  // first bytes. Returns each stream's text.
  std::vector<std::string> Streams(const std::vector<std::pair<std::string, int>>& which, int max_tokens,
                                   const std::function<void()>& during = nullptr) {
    std::vector<std::string> bodies(which.size());
    std::vector<std::atomic<bool>> started(which.size());
    std::vector<std::thread> clients;
    for (size_t i = 0; i < which.size(); ++i) {
      clients.emplace_back([&, i] {
        httplib::Client c("127.0.0.1", port_);
        c.set_read_timeout(300, 0);
        httplib::Request req;
        req.method = "POST";
        req.path = "/v1/completions";
        req.body = Body(which[i].first, which[i].second, max_tokens);
        req.set_header("Content-Type", "application/json");
        req.content_receiver = [&, i](const char* data, size_t n, uint64_t, uint64_t) {
          bodies[i].append(data, n);
          if (bodies[i].find("\"text\"") != std::string::npos) started[i] = true;
          return true;
        };
        c.send(req);
        started[i] = true;
      });
    }
    if (during) {
      for (int k = 0; k < 6000; ++k) {
        bool all = true;
        for (auto& s : started) all = all && s.load();
        if (all) break;
        std::this_thread::sleep_for(5ms);
      }
      during();
    }
    for (auto& t : clients) t.join();
    std::vector<std::string> texts;
    for (const std::string& b : bodies) texts.push_back(StreamText(b));
    return texts;
  }

  std::string dir_;
  int port_ = 0, admin_port_ = 0;
  std::unique_ptr<ChildProcess> process_;
  bool ready_ = false;
};

TEST_F(MultiWorkerTest, TwoWorkersServeTheirModelsAndOnesDeathLeavesTheOtherAlone) {
  ASSERT_TRUE(ready_) << process_->Log();
  rapidjson::Document status = Status();
  ASSERT_EQ(status["workers"].Size(), 2u) << HttpGet(admin_port_, "/admin/v1/status").body;
  std::map<std::string, int> worker_of;
  for (const auto& m : status["models"].GetArray()) {
    ASSERT_STREQ(m["state"].GetString(), "warm");
    ASSERT_TRUE(m["worker"].IsInt());
    worker_of[m["name"].GetString()] = m["worker"].GetInt();
  }
  ASSERT_EQ(worker_of.size(), 2u);
  EXPECT_NE(worker_of["first"], worker_of["second"]) << "both models on one worker";

  // Alone, one at a time: the reference texts (both names are the same file).
  const std::vector<std::string> alone_first = Streams({{"first", 1}, {"first", 2}}, 48);
  const std::vector<std::string> alone_second = Streams({{"second", 1}, {"second", 2}}, 48);
  for (const std::string& t : alone_first) ASSERT_EQ(t.find('<'), std::string::npos) << t;
  EXPECT_EQ(alone_first, alone_second);

  // Both workers at once.
  const std::vector<std::string> together = Streams({{"first", 1}, {"second", 2}, {"first", 2}, {"second", 1}}, 48);
  EXPECT_EQ(together[0], alone_first[0]);
  EXPECT_EQ(together[1], alone_first[1]);
  EXPECT_EQ(together[2], alone_first[1]);
  EXPECT_EQ(together[3], alone_first[0]);

  // SIGKILL the worker of "second" while streams run on both.
  const int victim = worker_of["second"], other = worker_of["first"];
  const pid_t victim_pid = status["workers"][victim]["pid"].GetInt();
  const pid_t other_pid = status["workers"][other]["pid"].GetInt();
  const std::vector<std::string> killed = Streams({{"first", 1}, {"second", 2}, {"first", 2}, {"second", 1}}, 48,
                                                  [&] { ASSERT_EQ(::kill(victim_pid, SIGKILL), 0); });
  EXPECT_EQ(killed[0], alone_first[0]) << "the other worker's stream";
  EXPECT_EQ(killed[2], alone_first[1]) << "the other worker's stream";
  EXPECT_EQ(killed[1], alone_first[1]) << "the killed worker's stream, after its restart";
  EXPECT_EQ(killed[3], alone_first[0]) << "the killed worker's stream, after its restart";
  status = Status();
  EXPECT_EQ(status["workers"][other]["pid"].GetInt(), other_pid) << "the other worker was not replaced";
  EXPECT_EQ(status["workers"][other]["restarts"].GetInt64(), 0);
  EXPECT_NE(status["workers"][victim]["pid"].GetInt(), victim_pid);
  EXPECT_EQ(status["workers"][victim]["restarts"].GetInt64(), 1);
}

}  // namespace
}  // namespace hearth::testing
