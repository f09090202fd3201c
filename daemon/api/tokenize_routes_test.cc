// POST /tokenize and /detokenize over real loopback HTTP, with a small byte-level tokenizer.
#include "daemon/api/tokenize_routes.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include <memory>
#include <string>

#include "daemon/engine/engine.h"
#include "daemon/http/http_server.h"
#include "model/tokenizer.h"
#include "model/tokenizer_test_util.h"

namespace hearth::daemon {
namespace {

constexpr const char* kChatMlTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{'<|im_start|>assistant\\n'}}{% endif %}";

// Serves one model's tokenizer; generation is never asked for.
class TokenizerOnlyEngine : public Engine {
 public:
  TokenizerOnlyEngine() {
    model::TokenizerSpec spec = model::testing::ByteLevelSpec();
    spec.chat_template = kChatMlTemplate;
    tokenizer_ = std::move(model::Tokenizer::Create(std::move(spec))).value();
  }
  const model::Tokenizer* tokenizer(const std::string& model) const override {
    return model == "smol" ? tokenizer_.get() : nullptr;
  }
  int32_t context_length(const std::string&) const override { return 64; }
  StatusOr<uint64_t> Submit(GenerationRequest, std::shared_ptr<RequestSink>) override {
    return Status::Internal("not for generation");
  }
  void Cancel(uint64_t) override {}
  EngineStats Stats() const override { return {}; }

 private:
  std::unique_ptr<model::Tokenizer> tokenizer_;
};

class TokenizeRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterTokenizeRoutes(server_.router(), [this] { return static_cast<Engine*>(&engine_); });
    StatusOr<int> port = server_.Start("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    port_ = *port;
  }
  void TearDown() override { server_.Stop(); }

  // The status and the parsed body.
  std::pair<int, rapidjson::Document> Post(const std::string& path, const std::string& body) {
    httplib::Client cli("127.0.0.1", port_);
    auto r = cli.Post(path.c_str(), body, "application/json");
    rapidjson::Document d;
    if (!r) return {0, std::move(d)};
    d.Parse(r->body.c_str());
    EXPECT_TRUE(d.IsObject()) << r->body;
    return {r->status, std::move(d)};
  }

  TokenizerOnlyEngine engine_;
  http::HttpServer server_;
  int port_ = 0;
};

TEST_F(TokenizeRoutesTest, PromptsWithAndWithoutTheBos) {
  auto [status, d] = Post("/tokenize", R"({"model":"smol","prompt":"hello world"})");
  ASSERT_EQ(status, 200);
  const rapidjson::Value& tokens = d["tokens"];
  ASSERT_EQ(d["count"].GetInt(), static_cast<int>(tokens.Size()));
  EXPECT_EQ(d["max_model_len"].GetInt(), 64);
  auto [status2, plain] = Post("/tokenize", R"({"model":"smol","prompt":"hello world","add_special_tokens":false})");
  ASSERT_EQ(status2, 200);
  ASSERT_EQ(plain["count"].GetInt(), 2) << "the merged 'hello' and ' world'";
  // Whatever the spec adds with add_special_tokens, the text's own ids end both lists.
  ASSERT_GE(tokens.Size(), 2u);
  EXPECT_EQ(tokens[tokens.Size() - 1].GetInt(), plain["tokens"][1].GetInt());
}

TEST_F(TokenizeRoutesTest, MessagesAreRenderedByTheChatTemplate) {
  auto [status, d] = Post("/tokenize", R"({"model":"smol","messages":[{"role":"user","content":"hello"}]})");
  ASSERT_EQ(status, 200);
  // <|im_start|> is parsed as its control token (id 1), as generation does.
  ASSERT_GE(d["tokens"].Size(), 3u);
  bool has_im_start = false;
  for (const rapidjson::Value& t : d["tokens"].GetArray()) has_im_start = has_im_start || t.GetInt() == 1;
  EXPECT_TRUE(has_im_start);
}

TEST_F(TokenizeRoutesTest, DetokenizeRoundTripsAndSkipsControlTokens) {
  auto [status, d] = Post("/tokenize", R"({"model":"smol","prompt":"hello world","add_special_tokens":false})");
  ASSERT_EQ(status, 200);
  const std::string ids = std::to_string(d["tokens"][0].GetInt()) + "," + std::to_string(d["tokens"][1].GetInt());
  auto [status2, text] = Post("/detokenize", R"({"model":"smol","tokens":[1,)" + ids + "]}");
  ASSERT_EQ(status2, 200);
  EXPECT_STREQ(text["prompt"].GetString(), "hello world");
}

TEST_F(TokenizeRoutesTest, BadInputIsA400NamingTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"model":"smol","tokens":[99999]})", "tokens"},  // outside the vocabulary
      {R"({"model":"smol","tokens":[-1]})", "tokens"},
  };
  for (const auto& [body, param] : cases) {
    auto [status, d] = Post("/detokenize", body);
    EXPECT_EQ(status, 400) << body;
    EXPECT_STREQ(d["error"]["param"].GetString(), param) << body;
  }
  std::string many = R"({"model":"smol","tokens":[)";
  for (int i = 0; i < 65; ++i) many.append(i ? ",5" : "5");
  auto [status, d] = Post("/detokenize", many + "]}");
  EXPECT_EQ(status, 400);
  EXPECT_STREQ(d["error"]["code"].GetString(), "context_length_exceeded");
  auto [status2, d2] = Post("/tokenize", R"({"model":"smol","prompt":")" + std::string(100, 'x') + "\"}");
  EXPECT_EQ(status2, 400) << "longer than the context of 64";
  EXPECT_STREQ(d2["error"]["param"].GetString(), "prompt");
  auto [status3, d3] = Post("/tokenize", R"({"model":"gpt-17","prompt":"x"})");
  EXPECT_EQ(status3, 404);
  EXPECT_STREQ(d3["error"]["code"].GetString(), "model_not_found");
}

}  // namespace
}  // namespace hearth::daemon
