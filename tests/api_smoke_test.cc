// The OpenAI API of a real hearthd serving SmolLM2: chat, streaming, completions, n > 1
// choices, errors, and a client that hangs up mid-stream. Skipped when the model file is absent.
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>
#include <vector>

#include "tests/model_path.h"
#include "tests/test_process.h"

namespace hearth::testing {
namespace {

rapidjson::Document Json(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  EXPECT_FALSE(d.HasParseError()) << body;
  return d;
}

// One request's choices, by index, as the client saw them.
struct Choices {
  std::map<int, std::string> text;
  std::map<int, std::string> finish_reason;
  int prompt_tokens = -1;
  int completion_tokens = -1;
  int usage_chunks = 0;
  bool done = false;  // streamed: ended with [DONE]
};

Choices FromResponse(const std::string& body, bool chat) {
  Choices out;
  auto d = Json(body);
  for (const auto& c : d["choices"].GetArray()) {
    const int index = c["index"].GetInt();
    out.text[index] = chat ? c["message"]["content"].GetString() : c["text"].GetString();
    out.finish_reason[index] = c["finish_reason"].IsString() ? c["finish_reason"].GetString() : "";
  }
  out.prompt_tokens = d["usage"]["prompt_tokens"].GetInt();
  out.completion_tokens = d["usage"]["completion_tokens"].GetInt();
  return out;
}

Choices FromStream(const std::string& body, bool chat) {
  Choices out;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    const size_t end = body.find("\n\n", pos);
    const std::string data = body.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") {
      out.done = true;
      break;
    }
    auto chunk = Json(data);
    if (chunk.HasMember("usage") && chunk["usage"].IsObject()) {
      ++out.usage_chunks;
      out.prompt_tokens = chunk["usage"]["prompt_tokens"].GetInt();
      out.completion_tokens = chunk["usage"]["completion_tokens"].GetInt();
    }
    for (const auto& c : chunk["choices"].GetArray()) {
      const int index = c["index"].GetInt();
      if (chat && c["delta"].HasMember("content")) out.text[index] += c["delta"]["content"].GetString();
      if (!chat) out.text[index] += c["text"].GetString();
      if (c["finish_reason"].IsString()) out.finish_reason[index] += c["finish_reason"].GetString();
    }
  }
  return out;
}

class ApiSmokeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!DefaultModelPresent()) return;
    dir_ = new std::string(TempDir());
    port_ = FreePort();
    admin_port_ = FreePort();
    daemon_ =
        new ChildProcess({BinaryPath("hearthd"), "--listen", "127.0.0.1:" + std::to_string(port_), "--admin-listen",
                          "127.0.0.1:" + std::to_string(admin_port_), "--data-dir", *dir_ + "/data", "--config", "",
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

  httplib::Result Post(const std::string& path, const std::string& body) {
    httplib::Client cli("127.0.0.1", port_);
    cli.set_read_timeout(120, 0);
    return cli.Post(path.c_str(), body, "application/json");
  }

  static inline std::string* dir_ = nullptr;
  static inline ChildProcess* daemon_ = nullptr;
  static inline int port_ = 0;
  static inline int admin_port_ = 0;
  static inline bool healthy_ = false;
};

constexpr const char* kCapital =
    R"({"model":"smollm2","messages":[{"role":"user","content":"What is the capital of France?"}],)"
    R"("max_tokens":12,"temperature":0)";

TEST_F(ApiSmokeTest, GreedyChatStreamsWhatItAnswers) {
  auto r = Post("/v1/chat/completions", std::string(kCapital) + "}");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto d = Json(r->body);
  const std::string content = d["choices"][0]["message"]["content"].GetString();
  EXPECT_FALSE(content.empty());
  // SmolLM2's template with its default system prompt, as llama.cpp renders and counts it.
  EXPECT_EQ(d["usage"]["prompt_tokens"].GetInt(), 37);
  EXPECT_EQ(d["usage"]["completion_tokens"].GetInt(), 12);
  EXPECT_STREQ(d["choices"][0]["finish_reason"].GetString(), "length");

  auto s = Post("/v1/chat/completions", std::string(kCapital) + R"(,"stream":true})");
  ASSERT_TRUE(s);
  ASSERT_EQ(s->status, 200) << s->body;
  const Choices streamed = FromStream(s->body, /*chat=*/true);
  EXPECT_EQ(streamed.text.at(0), content);
  EXPECT_TRUE(streamed.done);
}

TEST_F(ApiSmokeTest, SameSeedSameText) {
  const std::string body =
      R"({"model":"smollm2","prompt":"Once upon a time","max_tokens":10,"seed":1234,"temperature":1})";
  auto a = Post("/v1/completions", body);
  auto b = Post("/v1/completions", body);
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->status, 200) << a->body;
  EXPECT_EQ(a->get_header_value("X-Hearth-Seed"), "1234");
  EXPECT_STREQ(Json(a->body)["choices"][0]["text"].GetString(), Json(b->body)["choices"][0]["text"].GetString());
}

TEST_F(ApiSmokeTest, ErrorsInOpenAiFormat) {
  auto r = Post("/v1/chat/completions", R"({"model":"smollm2","messages":[{"role":"user","content":"x"}],"n":129})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(r->has_header("X-Request-Id"));
  EXPECT_STREQ(Json(r->body)["error"]["param"].GetString(), "n");

  r = Post("/v1/chat/completions", R"({"model":"nope","messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_STREQ(Json(r->body)["error"]["code"].GetString(), "model_not_found");

  r = Post("/v1/completions", R"({"model":"smollm2","prompt":"x","max_tokens":100000})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_STREQ(Json(r->body)["error"]["code"].GetString(), "context_length_exceeded");
}

// --- n > 1 choices ---------------------------------------------------------------------------

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t comma = std::min(s.find(',', pos), s.size());
    out.push_back(s.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return out;
}

// n=3 with a seed and temperature 1, streamed and not, on both endpoints: three finished
// choices with indexes 0..2 that are not all the same, choice 0 is the n=1 answer, each choice
// is its own request (/v1/requests/{id}) and the usage counts the prompt once.
TEST_F(ApiSmokeTest, SeveralSeededChoices) {
  for (bool chat : {true, false}) {
    SCOPED_TRACE(chat ? "chat" : "completions");
    const std::string path = chat ? "/v1/chat/completions" : "/v1/completions";
    const std::string prompt =
        chat ? R"("messages":[{"role":"user","content":"Tell me a story"}])" : R"("prompt":"Once upon a time")";
    const std::string body = R"({"model":"smollm2",)" + prompt + R"(,"max_tokens":12,"seed":77,"temperature":1)";

    auto one = Post(path, body + "}");
    ASSERT_TRUE(one);
    ASSERT_EQ(one->status, 200) << one->body;
    const Choices single = FromResponse(one->body, chat);

    auto r = Post(path, body + R"(,"n":3})");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->get_header_value("X-Hearth-Seed"), "77");
    const Choices all = FromResponse(r->body, chat);
    ASSERT_EQ(all.text.size(), 3u) << r->body;
    EXPECT_EQ(all.text.begin()->first, 0);
    EXPECT_EQ(all.text.rbegin()->first, 2);
    for (const auto& [index, reason] : all.finish_reason) EXPECT_FALSE(reason.empty()) << "choice " << index;
    EXPECT_EQ(all.text.at(0), single.text.at(0)) << "choice 0 is the n=1 answer for the seed";
    EXPECT_TRUE(all.text.at(0) != all.text.at(1) || all.text.at(1) != all.text.at(2)) << r->body;
    EXPECT_EQ(all.prompt_tokens, single.prompt_tokens);

    // Each choice is a request of its own; the usage sums theirs.
    const std::vector<std::string> ids = Split(r->get_header_value("X-Hearth-Choice-Request-Ids"));
    ASSERT_EQ(ids.size(), 3u);
    EXPECT_EQ(ids[0], r->get_header_value("X-Request-Id"));
    int sum = 0;
    for (int i = 0; i < 3; ++i) {
      auto info = Json(HttpGet(port_, "/v1/requests/" + ids[static_cast<size_t>(i)]).body);
      ASSERT_TRUE(info.HasMember("text"));
      EXPECT_EQ(info["text"].GetString(), all.text.at(i));
      sum += info["completion_tokens"].GetInt();
    }
    EXPECT_EQ(all.completion_tokens, sum);

    auto s = Post(path, body + R"(,"n":3,"stream":true,"stream_options":{"include_usage":true}})");
    ASSERT_TRUE(s);
    ASSERT_EQ(s->status, 200) << s->body;
    const Choices streamed = FromStream(s->body, chat);
    EXPECT_TRUE(streamed.done);
    EXPECT_EQ(streamed.text, all.text) << "the same seeds stream the same choices";
    EXPECT_EQ(streamed.finish_reason, all.finish_reason);
    EXPECT_EQ(streamed.usage_chunks, 1);
    EXPECT_EQ(streamed.prompt_tokens, all.prompt_tokens);
    EXPECT_EQ(streamed.completion_tokens, all.completion_tokens);
  }
}

TEST_F(ApiSmokeTest, GreedyChoicesAreAllTheSame) {
  for (bool stream : {false, true}) {
    auto r = Post("/v1/chat/completions", std::string(kCapital) + R"(,"n":3)" + (stream ? R"(,"stream":true})" : "}"));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const Choices c = stream ? FromStream(r->body, true) : FromResponse(r->body, true);
    ASSERT_EQ(c.text.size(), 3u) << r->body;
    EXPECT_FALSE(c.text.at(0).empty());
    EXPECT_EQ(c.text.at(1), c.text.at(0));
    EXPECT_EQ(c.text.at(2), c.text.at(0));
  }
}

TEST_F(ApiSmokeTest, IdempotencyKeyNeedsOneChoice) {
  httplib::Client cli("127.0.0.1", port_);
  auto r = cli.Post("/v1/completions", {{"Idempotency-Key", "choices-1"}},
                    R"({"model":"smollm2","prompt":"x","max_tokens":2,"n":2})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_STREQ(Json(r->body)["error"]["param"].GetString(), "Idempotency-Key");
}

// Choices 1..3 wait for the blocks choice 0 is computing, so each finds every full block of its
// prompt but the last token in the prefix cache (the prompt is new to this daemon).
TEST_F(ApiSmokeTest, LaterChoicesReuseThePromptBlocks) {
  auto hits = [this] {
    const std::string text = HttpGet(port_, "/metrics").body;
    const std::string name = "\nhearth_prefix_cache_hit_blocks_total{model=\"smollm2\"} ";
    const size_t at = text.find(name);
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + name.size()));
  };
  std::string prompt;
  for (int i = 0; i < 40; ++i) prompt += "The quick brown fox jumps over the lazy dog " + std::to_string(i) + ". ";
  const double before = hits();
  auto r = Post("/v1/completions",
                R"({"model":"smollm2","prompt":")" + prompt + R"(","max_tokens":2,"n":4,"temperature":0})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const double after = hits();
  std::cout << "n=4, prompt of " << Json(r->body)["usage"]["prompt_tokens"].GetInt()
            << " tokens: prefix cache hit blocks " << (after - before) << "\n";
  RecordProperty("prefix_cache_hit_blocks", std::to_string(after - before));
  ASSERT_GE(before, 0) << "no hearth_prefix_cache_hit_blocks_total in /metrics";
  const int prompt_tokens = Json(r->body)["usage"]["prompt_tokens"].GetInt();
  EXPECT_GE(after - before, 3 * ((prompt_tokens - 1) / 16)) << "16-token blocks";
}

TEST_F(ApiSmokeTest, HangingUpFreesTheRequest) {
  httplib::Client cli("127.0.0.1", port_);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = R"({"model":"smollm2","messages":[{"role":"user","content":"Write a long story"}],)"
             R"("max_tokens":4000,"stream":true})";
  req.set_header("Content-Type", "application/json");
  int chunks = 0;
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 4; };
  EXPECT_FALSE(cli.send(req));

  // The engine drops the request: nothing running and every KV block free again.
  bool idle = false;
  for (int i = 0; i < 100 && !idle; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto d = Json(HttpGet(admin_port_, "/admin/v1/status").body);
    if (!d.IsObject() || !d.HasMember("engine")) continue;
    const auto& e = d["engine"];
    idle = e["running"].GetInt64() == 0 && e["waiting"].GetInt64() == 0 &&
           e["kv_blocks_free"].GetInt64() == e["kv_blocks_total"].GetInt64();
  }
  EXPECT_TRUE(idle) << HttpGet(admin_port_, "/admin/v1/status").body;
  EXPECT_NE(daemon_->Log().find("stream closed early"), std::string::npos);
}

}  // namespace
}  // namespace hearth::testing
