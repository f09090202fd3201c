// Spot preemption notices against a real hearthd serving SmolLM2 (docs/durability.md,
// "Preemption notices"): 20 concurrent seeded streams too long to finish in the grace period,
// a notice file with 10 s of grace; new requests get 503 with Retry-After, hearthd exits 0
// before the deadline with every streamed token committed, and a restart on the same data
// directory finishes every request with the text of an uninterrupted run, byte for byte. Then
// the same notice from a local metadata-style endpoint, and from `hearthctl preempt`.
//
// HEARTH_PREEMPT_MAX_TOKENS (default 200) sizes the requests. Skipped without the model file.
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "store/database.h"
#include "tests/model_path.h"
#include "tests/test_process.h"

namespace hearth::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kRequests = 20;

int MaxTokens() { return EnvInt("HEARTH_PREEMPT_MAX_TOKENS", 200); }

rapidjson::Document Json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  return d;
}

// Request i, streamed: a quarter greedy, the rest sampled with their own seed; chat and completions.
std::string Path(int i) { return i % 3 == 2 ? "/v1/completions" : "/v1/chat/completions"; }
std::string Body(int i, int max_tokens) {
  static const char* kTopics[] = {"the sea", "a cat", "bread", "the moon", "rain", "a violin", "winter"};
  const std::string topic = kTopics[i % 7];
  const std::string temperature = i % 4 == 0 ? "0" : (i % 4 == 1 ? "0.7" : "1.0");
  std::string body =
      i % 3 == 2 ? R"({"model":"smollm2","prompt":"A long story about )" + topic + " (" + std::to_string(i) + R"():",)"
                 : R"({"model":"smollm2","messages":[{"role":"user","content":"Tell a long story )"
                   R"(about )" +
                       topic + " number " + std::to_string(i) + R"("}],)";
  return body + R"("max_tokens":)" + std::to_string(max_tokens) + R"(,"temperature":)" + temperature + R"(,"seed":)" +
         std::to_string(2000 + i) + R"(,"stream":true})";
}

// What a client saw of its stream.
struct Stream {
  std::atomic<bool> acknowledged{false};
  std::string id;  // X-Request-Id, set before acknowledged
  std::atomic<bool> done{false};
  std::string body;
};

// The text of an SSE body and how many chunks carried text; `finished` when it ended with [DONE].
struct StreamView {
  std::string text;
  int text_chunks = 0;
  bool finished = false;
  bool error = false;
};
StreamView ReadStream(const std::string& body) {
  StreamView v;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    const size_t end = body.find('\n', pos);
    if (end == std::string::npos) break;  // cut mid-line
    const std::string data = body.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") {
      v.finished = true;
      break;
    }
    auto d = Json(data);
    if (d.HasParseError() || d.HasMember("error")) {
      v.error = true;
      continue;
    }
    if (!d.HasMember("choices") || d["choices"].Empty()) continue;
    const auto& choice = d["choices"][0];
    std::string piece;
    if (choice.HasMember("delta") && choice["delta"].HasMember("content") && choice["delta"]["content"].IsString())
      piece = choice["delta"]["content"].GetString();
    if (choice.HasMember("text") && choice["text"].IsString()) piece = choice["text"].GetString();
    if (!piece.empty()) ++v.text_chunks;
    v.text += piece;
  }
  return v;
}

// Client threads, joined on the way out (also when an assertion returns early).
struct ClientThreads {
  std::vector<std::thread> threads;
  void Join() {
    for (std::thread& t : threads) {
      if (t.joinable()) t.join();
    }
  }
  ~ClientThreads() { Join(); }
};

class PreemptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!DefaultModelPresent()) GTEST_SKIP() << "no model at " << DefaultModelPath();
    port_ = FreePort();
    admin_port_ = FreePort();
  }

  // hearth.toml with `preemption` as the [preemption] table's lines.
  static void WriteConfig(const std::string& dir, const std::string& preemption) {
    // A fixed budget skips the load-time profile: restarts are quicker.
    std::ofstream(dir + "/hearth.toml") << "log_level = \"info\"\n[scheduler]\ntoken_budget = 256\n[preemption]\n"
                                        << preemption;
  }
  static std::string NewDir(const std::string& preemption) {
    std::string dir = TempDir();
    WriteConfig(dir, preemption);
    return dir;
  }

  void Send(int i, const std::string& key, Stream* out) {
    httplib::Client cli("127.0.0.1", port_);
    cli.set_read_timeout(300, 0);
    httplib::Request req;
    req.method = "POST";
    req.path = Path(i);
    req.body = Body(i, MaxTokens());
    req.set_header("Content-Type", "application/json");
    req.set_header("Idempotency-Key", key + std::to_string(i));
    req.response_handler = [out](const httplib::Response& res) {
      if (res.status == 200 && res.has_header("X-Request-Id")) {
        out->id = res.get_header_value("X-Request-Id");
        out->acknowledged = true;
      }
      return true;
    };
    req.content_receiver = [out](const char* data, size_t n, uint64_t, uint64_t) {
      out->body.append(data, n);
      return true;
    };
    cli.send(req);
    out->done = true;
  }

  // Starts `n` streams and waits until every one is acknowledged and some text arrived.
  void StartStreams(std::vector<Stream>& streams, const std::string& key, ClientThreads* out) {
    std::vector<std::thread>& clients = out->threads;
    for (size_t i = 0; i < streams.size(); ++i) {
      clients.emplace_back([this, &streams, key, i] { Send(static_cast<int>(i), key, &streams[i]); });
    }
    for (int k = 0; k < 12000; ++k) {
      bool all = true;
      for (const Stream& s : streams) all = all && (s.acknowledged || s.done);
      if (all) break;
      std::this_thread::sleep_for(10ms);
    }
  }

  // Polls until a new request is refused (the notice is in); that refusal.
  httplib::Result RefusedRequest() {
    httplib::Client cli("127.0.0.1", port_);
    cli.set_read_timeout(60, 0);
    for (int k = 0;; ++k) {
      httplib::Result r =
          cli.Post("/v1/completions", R"({"model":"smollm2","prompt":"hi","max_tokens":1})", "application/json");
      if (k == 200 || (r && r->status != 200)) return r;
      std::this_thread::sleep_for(25ms);
    }
  }

  void ExpectDrainingRefusal() {
    httplib::Result r = RefusedRequest();
    ASSERT_TRUE(r) << "hearthd did not answer after the notice";
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_TRUE(r->has_header("Retry-After"));
    auto d = Json(r->body);
    ASSERT_TRUE(!d.HasParseError() && d.HasMember("error") && d["error"].HasMember("message")) << r->body;
    auto ready = HttpGet(port_, "/readyz");
    EXPECT_EQ(ready.status, 503) << ready.body;
  }

  // Waits up to `limit` after `since` for hearthd to exit; its wait status, or nullopt.
  static std::optional<int> WaitExit(ChildProcess& p, Clock::time_point since, std::chrono::milliseconds limit,
                                     double* exited_after_s) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(since + limit - Clock::now());
    std::optional<int> status = p.Wait(std::max<int>(1, static_cast<int>(left.count())));
    *exited_after_s = std::chrono::duration<double>(Clock::now() - since).count();
    return status;
  }

  // Runs all requests to the end against a clean daemon: the reference texts (once per run).
  std::vector<std::string> Reference() {
    static std::vector<std::string>* cached = nullptr;
    if (cached) return *cached;
    const std::string dir = NewDir("");
    HearthdProcess daemon(dir, port_, admin_port_);
    EXPECT_TRUE(daemon.healthy()) << daemon.process().Log();
    std::vector<Stream> streams(kRequests);
    ClientThreads clients;
    StartStreams(streams, "ref-", &clients);
    clients.Join();
    std::vector<std::string> texts(kRequests);
    for (int i = 0; i < kRequests; ++i) {
      StreamView v = ReadStream(streams[i].body);
      EXPECT_TRUE(v.finished && !v.error) << i << ": " << streams[i].body.substr(0, 300);
      texts[i] = v.text;
      EXPECT_EQ(FinalRequestText(port_, streams[i].id), v.text) << i;
    }
    daemon.process().Signal(SIGTERM);
    daemon.process().Wait(30000);
    std::filesystem::remove_all(dir);
    cached = new std::vector<std::string>(texts);
    return texts;
  }

  int port_ = 0;
  int admin_port_ = 0;
};

// The acceptance test: a notice file with 10 s of grace.
TEST_F(PreemptTest, NoticeFileTenSecondsCommitsExitsZeroAndRestartFinishesIdentically) {
  const std::vector<std::string> reference = Reference();
  for (int i = 0; i < kRequests; ++i) ASSERT_FALSE(reference[i].empty()) << i;
  const std::string dir = TempDir();
  const std::string notice = dir + "/notice";
  // The file's content (10) overrides the configured 30 s: a wrong parse would miss the deadline.
  WriteConfig(dir, "grace_seconds = 30\nnotice_file = \"" + notice + "\"\n");
  std::vector<Stream> streams(kRequests);
  ClientThreads clients;  // joined after hearthd is gone
  double exited_after = 0;
  {
    HearthdProcess daemon(dir, port_, admin_port_);
    ASSERT_TRUE(daemon.healthy()) << daemon.process().Log();
    StartStreams(streams, "preempt-", &clients);
    for (int i = 0; i < kRequests; ++i) ASSERT_TRUE(streams[i].acknowledged) << i;
    std::this_thread::sleep_for(1s);  // some tokens streamed
    { std::ofstream(notice + ".tmp") << "10\n"; }
    const auto noticed = Clock::now();
    std::filesystem::rename(notice + ".tmp", notice);
    ExpectDrainingRefusal();
    std::optional<int> status = WaitExit(daemon.process(), noticed, 10s, &exited_after);
    ASSERT_TRUE(status.has_value()) << "hearthd still running 10 s after the notice\n" << daemon.process().Log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status;
    std::printf("preempt test: hearthd exited %.2f s after a 10 s notice\n", exited_after);
    clients.Join();
  }
  std::filesystem::remove(notice);
  {
    auto db = store::Database::Open(dir + "/data/hearth.db");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto integrity = (*db)->IntegrityCheck();
    ASSERT_TRUE(integrity.ok()) << integrity.status().ToString();
    EXPECT_EQ(*integrity, "ok");
    auto open = (*db)->Query("SELECT COUNT(*) FROM requests WHERE status IN ('queued', 'running')");
    auto failed = (*db)->Query("SELECT COUNT(*) FROM requests WHERE status = 'failed'");
    ASSERT_TRUE(open.ok() && failed.ok());
    EXPECT_EQ((*failed)[0][0], "0") << "a preempted request was recorded as failed";
    EXPECT_NE((*open)[0][0], "0") << "every request finished within the grace: nothing left to resume";
    std::printf("preempt test: %s of %d requests left to resume\n", (*open)[0][0].c_str(), kRequests);
    // Every token a client received was committed first, and is a prefix of the uninterrupted text.
    for (int i = 0; i < kRequests; ++i) {
      const StreamView v = ReadStream(streams[i].body);
      auto stored = (*db)->Query("SELECT COUNT(*) FROM tokens WHERE request_id = " + streams[i].id);
      ASSERT_TRUE(stored.ok());
      EXPECT_LE(v.text_chunks, std::stoi((*stored)[0][0])) << "request " << i << " streamed uncommitted tokens";
      EXPECT_EQ(reference[i].compare(0, v.text.size(), v.text), 0) << "request " << i << ": " << v.text;
      EXPECT_TRUE(v.finished || v.error) << "request " << i << "'s stream ended without [DONE] or an error";
    }
  }
  HearthdProcess restarted(dir, port_, admin_port_);
  ASSERT_TRUE(restarted.healthy()) << restarted.process().Log();
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(FinalRequestText(port_, streams[i].id), reference[i]) << "request " << i << " id " << streams[i].id;
  }
  restarted.process().Signal(SIGTERM);
  EXPECT_TRUE(restarted.process().Wait(60000).has_value());
  auto db = store::Database::Open(dir + "/data/hearth.db");
  ASSERT_TRUE(db.ok());
  auto unfinished = (*db)->Query("SELECT COUNT(*) FROM requests WHERE status IN ('queued', 'running')");
  ASSERT_TRUE(unfinished.ok());
  EXPECT_EQ((*unfinished)[0][0], "0");
  db->reset();
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

// The notice from a local endpoint polled like a cloud metadata service: 404 until told, then
// 200 with the time left.
TEST_F(PreemptTest, MetadataEndpointNoticeDrainsAndExitsZeroInTime) {
  httplib::Server metadata;
  std::atomic<bool> preempted{false};
  std::mutex mu;
  std::optional<Clock::time_point> first_notice;  // GUARDED_BY(mu)
  metadata.Get("/spot/instance-action", [&](const httplib::Request&, httplib::Response& res) {
    if (!preempted) {
      res.status = 404;
      return;
    }
    std::lock_guard<std::mutex> lock(mu);
    if (!first_notice) first_notice = Clock::now();
    res.set_content(R"({"action":"terminate","grace_seconds":6})", "application/json");
  });
  const int metadata_port = metadata.bind_to_any_port("127.0.0.1");
  ASSERT_GT(metadata_port, 0);
  std::thread server([&] { metadata.listen_after_bind(); });
  struct StopServer {  // also when an assertion returns early
    httplib::Server& server;
    std::thread& thread;
    ~StopServer() {
      server.stop();
      if (thread.joinable()) thread.join();
    }
  } stop_server{metadata, server};
  const std::string dir = NewDir("poll_url = \"http://127.0.0.1:" + std::to_string(metadata_port) +
                                 "/spot/instance-action\"\npoll_interval_ms = 200\n");
  std::vector<Stream> streams(4);
  {
    ClientThreads clients;  // joined after hearthd is gone
    HearthdProcess daemon(dir, port_, admin_port_);
    ASSERT_TRUE(daemon.healthy()) << daemon.process().Log();
    StartStreams(streams, "metadata-", &clients);
    preempted = true;
    ExpectDrainingRefusal();
    std::optional<Clock::time_point> since;
    {
      std::lock_guard<std::mutex> lock(mu);
      since = first_notice;
    }
    ASSERT_TRUE(since.has_value());
    double exited_after = 0;
    std::optional<int> status = WaitExit(daemon.process(), *since, 6s, &exited_after);
    ASSERT_TRUE(status.has_value()) << "hearthd still running 6 s after the notice\n" << daemon.process().Log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status;
    std::printf("preempt test: hearthd exited %.2f s after a 6 s notice from the endpoint\n", exited_after);
    clients.Join();
  }
  auto db = store::Database::Open(dir + "/data/hearth.db");
  ASSERT_TRUE(db.ok());
  auto failed = (*db)->Query("SELECT COUNT(*) FROM requests WHERE status = 'failed'");
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ((*failed)[0][0], "0");
  db->reset();
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

// `hearthctl preempt`: a bad grace is a 400 in the OpenAI format; a notice to an idle hearthd
// (nothing to finish) makes it exit 0 at once rather than at the deadline.
TEST_F(PreemptTest, HearthctlPreemptOnAnIdleDaemonExitsAtOnce) {
  const std::string dir = NewDir("");
  HearthdProcess daemon(dir, port_, admin_port_);
  ASSERT_TRUE(daemon.healthy()) << daemon.process().Log();
  httplib::Client admin("127.0.0.1", admin_port_);
  auto bad = admin.Post("/admin/v1/preempt", R"({"grace_seconds":-1})", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find(R"("param":"grace_seconds")"), std::string::npos) << bad->body;
  const std::string url = "http://127.0.0.1:" + std::to_string(admin_port_);
  RunResult usage = RunCommand({BinaryPath("hearthctl"), "--url", url, "preempt", "--grace", "-3"});
  EXPECT_EQ(usage.exit_code, 2) << usage.out;
  ASSERT_TRUE(daemon.process().Wait(0) == std::nullopt) << "a refused notice stopped hearthd";

  const auto sent = Clock::now();
  RunResult r = RunCommand({BinaryPath("hearthctl"), "--url", url, "--json", "preempt", "--grace", "600"});
  ASSERT_EQ(r.exit_code, 0) << r.out;
  auto d = Json(r.out);
  ASSERT_FALSE(d.HasParseError()) << r.out;
  EXPECT_TRUE(d["preempting"].GetBool());
  EXPECT_STREQ(d["source"].GetString(), "admin API");
  EXPECT_DOUBLE_EQ(d["grace_seconds"].GetDouble(), 600);
  EXPECT_GT(d["seconds_to_stop"].GetDouble(), 500);  // 10% margin: stop at 540 s
  double exited_after = 0;
  std::optional<int> status = WaitExit(daemon.process(), sent, 60s, &exited_after);
  ASSERT_TRUE(status.has_value()) << "an idle hearthd waited for the deadline\n" << daemon.process().Log();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status;
  const std::string log = daemon.process().Log();
  EXPECT_NE(log.find("no work left"), std::string::npos) << log;
  RunResult down = RunCommand({BinaryPath("hearthctl"), "--url", url, "preempt"});
  EXPECT_EQ(down.exit_code, 3) << down.out;
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hearth::testing
