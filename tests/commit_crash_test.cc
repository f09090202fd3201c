// Issue 6's kill at the N-th commit, as SQLite's writecrash test does it: hearthd runs with
// HEARTH_TEST_CRASH_AT_COMMIT=N:PHASE (daemon/durability/commit_crash_point.h) and SIGKILLs itself at its
// N-th per-iteration commit, inside the transaction ("before") or right after COMMIT, before
// the tokens are streamed ("after"), while 6 concurrent seeded streamed requests run. Then:
// every token a client received is in the store (same index, same logprob); the crashed
// commit's tokens are in the store only for "after", and nobody received them; restarted
// without the hook on the same data directory, every acknowledged request finishes with the
// text of an uninterrupted run, byte for byte; PRAGMA integrity_check is ok.
//
// N runs over 1..K (HEARTH_COMMIT_CRASH_K, default 8) and two larger N up to the longest
// request's token count in the clean run (a commit every crashed run must reach), each with
// both phases. HEARTH_COMMIT_CRASH_MAX_TOKENS (default 20) sizes the requests. Skipped when
// the model file is absent.
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "store/database.h"
#include "store/request_store.h"
#include "tests/model_path.h"
#include "tests/test_process.h"

namespace hearth::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kRequests = 6;

rapidjson::Document Json(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  return d;
}

// Request i: chat or completion, greedy or sampled with its own seed, always streamed with
// logprobs, so that each token arrives as one logprob entry the test can match with the store.
bool Chat(int i) { return i % 2 == 0; }

std::string Body(int i, int max_tokens) {
  static const char* kTopics[] = {"the sea", "a cat", "bread", "the moon", "rain", "a violin"};
  const std::string temperature = i % 3 == 0 ? "0" : (i % 3 == 1 ? "0.8" : "1.0");
  std::string body =
      Chat(i) ? R"({"model":"smollm2","messages":[{"role":"user","content":"Tell me about )" + std::string(kTopics[i]) +
                    R"("}],"logprobs":true,)"
              : R"({"model":"smollm2","prompt":"Notes on )" + std::string(kTopics[i]) + R"(:","logprobs":1,)";
  return body + R"("max_tokens":)" + std::to_string(max_tokens) + R"(,"temperature":)" + temperature + R"(,"seed":)" +
         std::to_string(700 + i) + R"(,"stream":true})";
}

std::string Path(int i) { return Chat(i) ? "/v1/chat/completions" : "/v1/completions"; }

// What one client got: its id (X-Request-Id) and its stream's raw bytes.
struct Client {
  std::string id;  // empty: never acknowledged
  std::string body;
};

// The tokens and text of the complete events in a streamed body (a torn last event is not
// counted: the client did not get it).
struct Received {
  std::vector<float> logprobs;  // one per token, in order
  std::string text;
};

Received ParseStream(const std::string& body) {
  Received out;
  size_t pos = 0;
  for (size_t end; (end = body.find("\n\n", pos)) != std::string::npos; pos = end + 2) {
    const std::string event = body.substr(pos, end - pos);
    const size_t data = event.find("data: ");
    if (data == std::string::npos) continue;
    auto d = Json(event.substr(data + 6));
    if (d.HasParseError() || !d.HasMember("choices") || d["choices"].Empty()) continue;
    const auto& choice = d["choices"][0];
    if (choice.HasMember("delta") && choice["delta"].HasMember("content"))
      out.text += choice["delta"]["content"].GetString();
    if (choice.HasMember("text")) out.text += choice["text"].GetString();
    if (!choice.HasMember("logprobs") || !choice["logprobs"].IsObject()) continue;
    const auto& lp = choice["logprobs"];
    const auto& entries = lp.HasMember("content") ? lp["content"] : lp["token_logprobs"];
    for (const auto& e : entries.GetArray()) {
      out.logprobs.push_back(static_cast<float>(e.IsObject() ? e["logprob"].GetDouble() : e.GetDouble()));
    }
  }
  return out;
}

// The hook's log line: which commit, which phase, and the (request id, token index) it held.
struct CrashLine {
  int64_t commit = -1;
  std::string phase;
  std::vector<std::pair<uint64_t, int32_t>> tokens;
};

std::string Field(const std::string& line, const std::string& key) {
  const size_t at = line.find(" " + key + "=");
  if (at == std::string::npos) return "";
  size_t begin = at + key.size() + 2;
  if (line[begin] == '"') return line.substr(begin + 1, line.find('"', begin + 1) - begin - 1);
  return line.substr(begin, line.find(' ', begin) - begin);
}

std::optional<CrashLine> FindCrashLine(const std::string& log) {
  const size_t at = log.find("crash test hook: SIGKILL at commit");
  if (at == std::string::npos) return std::nullopt;
  const std::string line = log.substr(at, log.find('\n', at) - at);
  CrashLine out;
  out.commit = std::atoll(Field(line, "commit").c_str());
  out.phase = Field(line, "phase");
  const std::string tokens = Field(line, "tokens");
  for (size_t pos = 0; pos < tokens.size();) {
    size_t comma = tokens.find(',', pos);
    if (comma == std::string::npos) comma = tokens.size();
    const std::string pair = tokens.substr(pos, comma - pos);
    const size_t colon = pair.find(':');
    out.tokens.emplace_back(std::stoull(pair.substr(0, colon)), std::stoi(pair.substr(colon + 1)));
    pos = comma + 1;
  }
  return out;
}

class CommitCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!DefaultModelPresent()) GTEST_SKIP() << "no model at " << DefaultModelPath();
    max_tokens_ = EnvInt("HEARTH_COMMIT_CRASH_MAX_TOKENS", 20);
    port_ = FreePort();
    admin_port_ = FreePort();
  }

  static std::string NewDir() {
    std::string dir = TempDir();
    // A fixed budget skips the load-time profile: restarts are quicker.
    std::ofstream(dir + "/hearth.toml") << "log_level = \"info\"\n[scheduler]\ntoken_budget = 256\n";
    return dir;
  }

  // hearthd on `dir`, with the crash hook when `crash_at` is set; its log in dir/LOG_NAME.
  std::unique_ptr<ChildProcess> Start(const std::string& dir, const std::string& crash_at,
                                      const std::string& log_name) {
    std::vector<std::string> argv;
    if (!crash_at.empty()) argv = {"/usr/bin/env", "HEARTH_TEST_CRASH_AT_COMMIT=" + crash_at};
    for (const std::string& a :
         {BinaryPath("hearthd"), std::string("--config"), dir + "/hearth.toml", std::string("--listen"),
          "127.0.0.1:" + std::to_string(port_), std::string("--admin-listen"),
          "127.0.0.1:" + std::to_string(admin_port_), std::string("--data-dir"), dir + "/data",
          std::string("--threads"), std::string("2"), std::string("--model"), "smollm2=" + DefaultModelPath()}) {
      argv.push_back(a);
    }
    auto process = std::make_unique<ChildProcess>(argv, dir + "/" + log_name);
    EXPECT_TRUE(WaitHealthy(port_, 120000)) << process->Log();
    return process;
  }

  void Send(int i, Client* out) {
    httplib::Client cli("127.0.0.1", port_);
    cli.set_read_timeout(300, 0);
    httplib::Request req;
    req.method = "POST";
    req.path = Path(i);
    req.body = Body(i, max_tokens_);
    req.set_header("Content-Type", "application/json");
    req.response_handler = [out](const httplib::Response& res) {
      if (res.status == 200 && res.has_header("X-Request-Id")) out->id = res.get_header_value("X-Request-Id");
      return true;
    };
    req.content_receiver = [out](const char* data, size_t n, uint64_t, uint64_t) {
      out->body.append(data, n);
      return true;
    };
    cli.send(req);
  }

  std::vector<Client> SendAll() {
    std::vector<Client> clients(kRequests);
    std::vector<std::thread> threads;
    for (int i = 0; i < kRequests; ++i) threads.emplace_back([&, i] { Send(i, &clients[i]); });
    for (auto& t : threads) t.join();
    return clients;
  }

  // The clean run: every request's final text, and the longest request's token count.
  struct Reference {
    std::vector<std::string> texts;
    int64_t longest = 0;
  };
  const Reference& GetReference() {
    static Reference* cached = nullptr;
    if (cached) return *cached;
    cached = new Reference;
    const std::string dir = NewDir();
    {
      auto daemon = Start(dir, "", "reference.log");
      std::vector<Client> clients = SendAll();
      for (int i = 0; i < kRequests; ++i) {
        EXPECT_FALSE(clients[i].id.empty()) << "reference request " << i << " not acknowledged";
        cached->texts.push_back(FinalRequestText(port_, clients[i].id));
        EXPECT_EQ(ParseStream(clients[i].body).text, cached->texts.back()) << "reference request " << i;
      }
      daemon->Signal(SIGTERM);
      daemon->Wait(30000);
    }
    auto db = store::Database::Open(dir + "/data/hearth.db");
    EXPECT_TRUE(db.ok());
    auto rows = (*db)->Query("SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM tokens GROUP BY request_id)");
    EXPECT_TRUE(rows.ok());
    cached->longest = std::atoll((*rows)[0][0].c_str());
    std::filesystem::remove_all(dir);
    return *cached;
  }

  // One crash at `commit` in `phase`, then the restart and every check.
  void CrashAndRecover(int64_t commit, const std::string& phase, const Reference& ref);

  int max_tokens_ = 20;
  int port_ = 0;
  int admin_port_ = 0;
};

void CommitCrashTest::CrashAndRecover(int64_t commit, const std::string& phase, const Reference& ref) {
  const std::string dir = NewDir();
  std::vector<Client> clients(kRequests);
  {
    auto daemon = Start(dir, std::to_string(commit) + ":" + phase, "crash.log");
    std::vector<std::thread> threads;
    for (int i = 0; i < kRequests; ++i) threads.emplace_back([&, i] { Send(i, &clients[i]); });
    std::optional<int> status = daemon->Wait(180000);
    if (!status) daemon->Signal(SIGKILL);
    for (auto& t : threads) t.join();
    ASSERT_TRUE(status.has_value()) << "hearthd never reached commit " << commit << "\n" << daemon->Log();
    ASSERT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL)
        << "hearthd ended with status " << *status << " instead of SIGKILL\n"
        << daemon->Log();
  }
  std::ifstream log_file(dir + "/crash.log");
  const std::string log((std::istreambuf_iterator<char>(log_file)), std::istreambuf_iterator<char>());
  const std::optional<CrashLine> crash = FindCrashLine(log);
  ASSERT_TRUE(crash.has_value()) << "no crash hook line in the log:\n" << log;
  EXPECT_EQ(crash->commit, commit);
  EXPECT_EQ(crash->phase, phase);

  // What the crash left in the store.
  std::map<uint64_t, std::vector<store::StoredToken>> stored;
  {
    auto db = store::Database::Open(dir + "/data/hearth.db");
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    store::RequestStore store(db->get());
    auto unfinished = store.LoadUnfinished();
    ASSERT_TRUE(unfinished.ok()) << unfinished.status().ToString();
    for (const store::StoredRequest& r : *unfinished) stored[r.id] = r.tokens;
    for (const auto& [id, index] : crash->tokens) {
      auto r = store.Get(id);
      ASSERT_TRUE(r.ok() && r->has_value()) << "request " << id << " of the crashed commit is not stored";
      stored[id] = (*r)->tokens;
    }
    for (const Client& c : clients) {
      if (c.id.empty() || stored.count(std::stoull(c.id))) continue;
      auto r = store.Get(std::stoull(c.id));
      ASSERT_TRUE(r.ok() && r->has_value()) << "acknowledged request " << c.id << " is not stored";
      stored[std::stoull(c.id)] = (*r)->tokens;
    }
  }
  // The crashed commit's tokens: the last ones in the store after COMMIT, absent before it.
  std::map<uint64_t, int32_t> crashed;  // request id -> token index in the crashed commit
  for (const auto& [id, index] : crash->tokens) {
    crashed[id] = index;
    EXPECT_EQ(static_cast<int64_t>(stored[id].size()), phase == "after" ? index + 1 : index)
        << "request " << id << " token " << index << " of commit " << commit << " (" << phase << ")";
  }
  // Every token a client received is committed, and none of the crashed commit's reached one.
  int acknowledged = 0, received_total = 0;
  for (int i = 0; i < kRequests; ++i) {
    if (clients[i].id.empty()) continue;
    ++acknowledged;
    const uint64_t id = std::stoull(clients[i].id);
    const Received got = ParseStream(clients[i].body);
    received_total += static_cast<int>(got.logprobs.size());
    const std::vector<store::StoredToken>& tokens = stored[id];
    ASSERT_LE(got.logprobs.size(), tokens.size()) << "request " << i << " (id " << id << ") got uncommitted tokens";
    for (size_t k = 0; k < got.logprobs.size(); ++k) {
      EXPECT_EQ(got.logprobs[k], tokens[k].logprob) << "request " << i << " token " << k;
    }
    if (crashed.count(id)) {
      EXPECT_LE(static_cast<int32_t>(got.logprobs.size()), crashed[id])
          << "request " << i << " received token " << crashed[id] << " of the crashed commit";
    }
    EXPECT_EQ(ref.texts[i].compare(0, got.text.size(), got.text), 0)
        << "request " << i << " streamed text is not a prefix of the reference: " << got.text;
  }
  std::printf("commit %lld %s: %zu tokens in the crashed commit, %d acknowledged, %d tokens received\n",
              static_cast<long long>(commit), phase.c_str(), crash->tokens.size(), acknowledged, received_total);
  std::fflush(stdout);

  // Restarted without the hook: every acknowledged request ends with the reference text.
  {
    auto daemon = Start(dir, "", "restart.log");
    for (int i = 0; i < kRequests; ++i) {
      if (clients[i].id.empty()) continue;
      EXPECT_EQ(FinalRequestText(port_, clients[i].id), ref.texts[i]) << "request " << i << " id " << clients[i].id;
    }
    daemon->Signal(SIGTERM);
    EXPECT_TRUE(daemon->Wait(60000).has_value());
  }
  auto db = store::Database::Open(dir + "/data/hearth.db");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto integrity = (*db)->IntegrityCheck();
  ASSERT_TRUE(integrity.ok()) << integrity.status().ToString();
  EXPECT_EQ(*integrity, "ok");
  auto unfinished = (*db)->Query("SELECT COUNT(*) FROM requests WHERE status IN ('queued', 'running')");
  ASSERT_TRUE(unfinished.ok());
  EXPECT_EQ((*unfinished)[0][0], "0");
  db->reset();
  if (!HasFailure()) std::filesystem::remove_all(dir);
}

TEST_F(CommitCrashTest, KillAtEachCommitLosesNothing) {
  const Reference& ref = GetReference();
  ASSERT_EQ(ref.texts.size(), static_cast<size_t>(kRequests));
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_EQ(ref.texts[i].find('<'), std::string::npos) << "reference " << i << ": " << ref.texts[i];
  }
  // Each commit holds at most one token per request, so every run commits at least `longest` times.
  const int64_t k = EnvInt("HEARTH_COMMIT_CRASH_K", 8);
  std::set<int64_t> commits;
  for (int64_t n = 1; n <= std::min(k, ref.longest); ++n) commits.insert(n);
  if (ref.longest > k) commits.insert({k + (ref.longest - k) / 2 + 1, ref.longest});
  std::printf("commit crash test: longest reference request %lld tokens; crashing at %zu commits\n",
              static_cast<long long>(ref.longest), commits.size());
  for (int64_t n : commits) {
    for (const char* phase : {"before", "after"}) {
      SCOPED_TRACE("commit " + std::to_string(n) + " " + phase);
      CrashAndRecover(n, phase, ref);
      if (HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace hearth::testing
