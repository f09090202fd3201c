// The OpenAI API of a real hearthd serving SmolLM2: chat, streaming, completions, errors, and
// a client that hangs up mid-stream. Skipped when the model file is absent.
#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include <chrono>
#include <filesystem>
#include <thread>

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

// The streamed content of a chat SSE body, and whether it ended with [DONE].
std::string StreamedContent(const std::string& body, bool* done) {
  std::string content;
  *done = false;
  size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    const size_t end = body.find("\n\n", pos);
    const std::string data = body.substr(pos + 6, end - pos - 6);
    pos = end;
    if (data == "[DONE]") {
      *done = true;
      break;
    }
    auto chunk = Json(data);
    if (chunk.HasMember("choices") && !chunk["choices"].Empty() && chunk["choices"][0]["delta"].HasMember("content")) {
      content += chunk["choices"][0]["delta"]["content"].GetString();
    }
  }
  return content;
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
  bool done = false;
  EXPECT_EQ(StreamedContent(s->body, &done), content);
  EXPECT_TRUE(done);
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
  auto r = Post("/v1/chat/completions", R"({"model":"smollm2","messages":[{"role":"user","content":"x"}],"n":3})");
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
