// The generation routes over real loopback HTTP, against a scripted fake Engine.
#include "daemon/api/api_routes.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "daemon/durability/request_journal.h"
#include "daemon/engine/engine.h"
#include "store/database.h"
#include "store/request_store.h"
#include "daemon/http/http_server.h"
#include "daemon/ops/metered_engine.h"
#include "model/chat_template.h"
#include "model/tokenizer.h"
#include "model/tokenizer_test_util.h"

namespace hearth::daemon {
namespace {

using namespace std::chrono_literals;

constexpr const char* kChatMlTemplate =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}";

std::unique_ptr<model::Tokenizer> MakeTokenizer(std::string chat_template) {
  model::TokenizerSpec spec = model::testing::ByteLevelSpec();
  spec.chat_template = std::move(chat_template);
  auto t = model::Tokenizer::Create(std::move(spec));
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return std::move(t).value();
}

// Plays `script` to each request's sink from its own thread; or, when `endless`, a token every
// few milliseconds until cancelled. Records what it was given.
class FakeEngine : public Engine {
 public:
  FakeEngine()
      : chat_(MakeTokenizer(kChatMlTemplate)),
        plain_(MakeTokenizer("")),
        unparsable_(MakeTokenizer("{% for message in messages %}{{ message.content }}")),
        raising_(MakeTokenizer("{{ raise_exception('only one turn, please') }}")) {}
  ~FakeEngine() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

  const model::Tokenizer* tokenizer(const std::string& model) const override {
    if (model == "smol") return chat_.get();
    if (model == "plain") return plain_.get();
    if (model == "unparsable") return unparsable_.get();
    if (model == "raising") return raising_.get();
    return nullptr;
  }
  int32_t context_length(const std::string&) const override { return context; }

  StatusOr<uint64_t> Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) override {
    if (!submit_status.ok()) return submit_status;
    std::lock_guard<std::mutex> lock(mu_);
    if (requests_.size() >= max_accepted) return Status::ResourceExhausted("queue full");
    const uint64_t id = next_id_++;
    requests_.push_back(request);
    const int32_t prompt_tokens = static_cast<int32_t>(request.prompt.size());
    const int32_t num_logprobs = request.sampling.num_logprobs;
    const model::Tokenizer* tok = tokenizer(request.model);
    threads_.emplace_back(
        [this, id, sink, prompt_tokens, num_logprobs, tok] { Play(id, *sink, prompt_tokens, num_logprobs, tok); });
    return id;
  }

  void Cancel(uint64_t id) override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_.insert(id);
    cv_.notify_all();
  }

  EngineStats Stats() const override { return {}; }

  std::vector<GenerationRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  bool WaitCancelled(uint64_t id, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return cancelled_.count(id) > 0; });
  }

  // Set before requests arrive.
  std::vector<std::string> script = {"Hel", "lo", " world"};
  std::string finish_reason = "stop";
  std::string finish_text;  // held-back text released by the finish
  Status finish_status;
  Status submit_status;
  bool endless = false;
  int32_t context = 4096;
  size_t max_accepted = SIZE_MAX;  // later submissions are refused as a full queue

 private:
  void Play(uint64_t id, RequestSink& sink, int32_t prompt_tokens, int32_t num_logprobs, const model::Tokenizer* tok) {
    int32_t n = 0;
    auto emit = [&](const std::string& text) {
      TokenEvent e;
      e.token.id = 4 + static_cast<uint8_t>(text.empty() ? ' ' : text[0]);  // its first byte's token
      e.token.bytes = tok ? std::string(tok->TokenBytes(e.token.id)) : "";  // as the engine spells it
      e.token.logprob = -0.5f;
      for (int32_t i = 0; i < num_logprobs; ++i) e.token.top.push_back({4 + i, std::string(1, 'a' + i), -1.0f - i});
      e.text = text;
      sink.OnToken(e);
      ++n;
    };
    if (endless) {
      std::unique_lock<std::mutex> lock(mu_);
      while (!stopping_ && !cancelled_.count(id)) {
        lock.unlock();
        emit("tick ");
        lock.lock();
        cv_.wait_for(lock, 5ms);
      }
      lock.unlock();
      sink.OnFinish({FinishReason::kCancelled, Status::Ok(), prompt_tokens, n, "", {}});
      return;
    }
    for (const std::string& piece : script) {
      std::this_thread::sleep_for(1ms);
      emit(piece);
    }
    FinishReason reason = FinishReason::kStop;
    EXPECT_TRUE(ParseFinishReason(finish_reason, &reason)) << finish_reason;
    sink.OnFinish({reason, finish_status, prompt_tokens, n, finish_text, {}});
  }

  std::unique_ptr<model::Tokenizer> chat_, plain_, unparsable_, raising_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_id_ = 100;
  std::vector<GenerationRequest> requests_;
  std::set<uint64_t> cancelled_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

class ApiRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Start([this] { return static_cast<Engine*>(&engine_); });
  }
  void TearDown() override { Stop(); }

  void Start(std::function<Engine*()> engine, RequestJournal* journal = nullptr) {
    server_ = std::make_unique<http::HttpServer>();
    ApiRoutesOptions options;
    options.engine = std::move(engine);
    options.created_unix = 1234;
    options.journal = journal;
    RegisterOpenAiRoutes(server_->router(), std::move(options));
    StatusOr<int> port = server_->Start("127.0.0.1", 0);
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    port_ = *port;
  }
  void Stop() { server_->Stop(); }

  httplib::Result Post(const std::string& path, const std::string& body) {
    httplib::Client cli("127.0.0.1", port_);
    cli.set_read_timeout(10, 0);
    return cli.Post(path.c_str(), body, "application/json");
  }

  static rapidjson::Document Json(const std::string& body) {
    rapidjson::Document d;
    d.Parse(body.c_str(), body.size());
    EXPECT_FALSE(d.HasParseError()) << body;
    return d;
  }

  // "data: ..." payloads of an SSE body, in order.
  static std::vector<std::string> SseData(const std::string& body) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < body.size()) {
      size_t end = body.find("\n\n", pos);
      if (end == std::string::npos) end = body.size();
      std::string event = body.substr(pos, end - pos);
      if (event.rfind("id: ", 0) == 0) event.erase(0, event.find('\n') + 1);  // events carry ids
      if (event.rfind("data: ", 0) == 0) out.push_back(event.substr(6));
      pos = end + 2;
    }
    return out;
  }

  void ExpectError(const httplib::Result& r, int status, const char* param, const char* code = nullptr) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_TRUE(r->has_header("X-Request-Id"));
    auto d = Json(r->body);
    ASSERT_TRUE(d.HasMember("error")) << r->body;
    const auto& e = d["error"];
    EXPECT_TRUE(e["message"].IsString());
    if (param) {
      ASSERT_TRUE(e["param"].IsString()) << r->body;
      EXPECT_STREQ(e["param"].GetString(), param);
    } else {
      EXPECT_TRUE(e["param"].IsNull()) << r->body;
    }
    if (code) {
      ASSERT_TRUE(e["code"].IsString()) << r->body;
      EXPECT_STREQ(e["code"].GetString(), code);
    }
  }

  FakeEngine engine_;
  std::unique_ptr<http::HttpServer> server_;
  int port_ = 0;
};

constexpr const char* kHello = R"({"model":"smol","messages":[{"role":"user","content":"hello"}])";

std::string ChatBody(const std::string& extra = "") {
  return std::string(kHello) + (extra.empty() ? "" : "," + extra) + "}";
}

TEST_F(ApiRoutesTest, NonStreamingChat) {
  auto r = Post("/v1/chat/completions", ChatBody());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::string id = r->get_header_value("X-Request-Id");
  EXPECT_EQ(id, "100");
  EXPECT_FALSE(r->get_header_value("X-Hearth-Seed").empty());
  auto d = Json(r->body);
  EXPECT_EQ(std::string(d["id"].GetString()), "chatcmpl-" + id);
  EXPECT_STREQ(d["object"].GetString(), "chat.completion");
  EXPECT_STREQ(d["model"].GetString(), "smol");
  EXPECT_STREQ(d["choices"][0]["message"]["role"].GetString(), "assistant");
  EXPECT_STREQ(d["choices"][0]["message"]["content"].GetString(), "Hello world");
  EXPECT_STREQ(d["choices"][0]["finish_reason"].GetString(), "stop");

  // The prompt is the rendered template, tokenized with special tokens parsed.
  auto requests = engine_.requests();
  ASSERT_EQ(requests.size(), 1u);
  const model::Tokenizer& tok = *engine_.tokenizer("smol");
  auto tmpl = model::ChatTemplate::FromJinja(tok.chat_template(), "<|im_end|>");
  ASSERT_TRUE(tmpl.ok());
  const std::vector<model::ChatMessage> messages = {{"user", "hello"}};
  auto text = tmpl->Render(messages, true);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(requests[0].prompt, tok.Encode(*text, true, true));
  EXPECT_EQ(requests[0].prompt[0], 1);  // <|im_start|> as one token
  EXPECT_EQ(requests[0].max_tokens, 4096 - static_cast<int32_t>(requests[0].prompt.size()));
  EXPECT_EQ(requests[0].model, "smol");

  const int prompt_tokens = static_cast<int>(requests[0].prompt.size());
  EXPECT_EQ(d["usage"]["prompt_tokens"].GetInt(), prompt_tokens);
  EXPECT_EQ(d["usage"]["completion_tokens"].GetInt(), 3);
  EXPECT_EQ(d["usage"]["total_tokens"].GetInt(), prompt_tokens + 3);
}

TEST_F(ApiRoutesTest, ClientParamsReachTheEngine) {
  auto r = Post("/v1/chat/completions",
                ChatBody(R"("seed":42,"temperature":0.5,"top_k":7,"max_tokens":9,"stop":["x","y"])"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("X-Hearth-Seed"), "42");
  auto requests = engine_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].sampling.seed, 42u);
  EXPECT_EQ(requests[0].sampling.temperature, 0.5f);
  EXPECT_EQ(requests[0].sampling.top_k, 7);
  EXPECT_EQ(requests[0].max_tokens, 9);
  EXPECT_EQ(requests[0].stop, (std::vector<std::string>{"x", "y"}));
}

TEST_F(ApiRoutesTest, ChatLogprobs) {
  auto r = Post("/v1/chat/completions", ChatBody(R"("logprobs":true,"top_logprobs":2)"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto d = Json(r->body);
  const auto& content = d["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(content.Size(), 3u);
  EXPECT_STREQ(content[0]["token"].GetString(), "H");  // the fake's token is the first byte
  EXPECT_DOUBLE_EQ(content[0]["logprob"].GetDouble(), -0.5);
  EXPECT_EQ(content[0]["top_logprobs"].Size(), 2u);
  EXPECT_EQ(engine_.requests()[0].sampling.num_logprobs, 2);
}

TEST_F(ApiRoutesTest, StreamingChat) {
  auto r = Post("/v1/chat/completions", ChatBody(R"("stream":true,"stream_options":{"include_usage":true})"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  const std::string id = r->get_header_value("X-Request-Id");
  ASSERT_FALSE(id.empty());
  auto events = SseData(r->body);
  ASSERT_GE(events.size(), 4u) << r->body;
  EXPECT_EQ(events.back(), "[DONE]");

  auto first = Json(events[0]);
  EXPECT_EQ(std::string(first["id"].GetString()), "chatcmpl-" + id);
  EXPECT_STREQ(first["object"].GetString(), "chat.completion.chunk");
  EXPECT_STREQ(first["choices"][0]["delta"]["role"].GetString(), "assistant");

  std::string content;
  std::string finish_reason;
  int usage_chunks = 0;
  for (size_t i = 1; i + 1 < events.size(); ++i) {
    auto chunk = Json(events[i]);
    if (chunk["choices"].Empty()) {
      ++usage_chunks;
      EXPECT_EQ(chunk["usage"]["completion_tokens"].GetInt(), 3);
      EXPECT_EQ(chunk["usage"]["total_tokens"].GetInt(), chunk["usage"]["prompt_tokens"].GetInt() + 3);
      EXPECT_EQ(i, events.size() - 2) << "usage comes last, just before [DONE]";
      continue;
    }
    const auto& choice = chunk["choices"][0];
    if (choice["delta"].HasMember("content")) content += choice["delta"]["content"].GetString();
    if (choice["finish_reason"].IsString()) finish_reason = choice["finish_reason"].GetString();
  }
  EXPECT_EQ(content, "Hello world");
  EXPECT_EQ(finish_reason, "stop");
  EXPECT_EQ(usage_chunks, 1);
}

TEST_F(ApiRoutesTest, TextReleasedByTheFinishIsSent) {
  engine_.finish_text = "!";
  auto r = Post("/v1/chat/completions", ChatBody());
  ASSERT_TRUE(r);
  EXPECT_STREQ(Json(r->body)["choices"][0]["message"]["content"].GetString(), "Hello world!");

  r = Post("/v1/chat/completions", ChatBody(R"("stream":true)"));
  ASSERT_TRUE(r);
  std::string content;
  for (const std::string& data : SseData(r->body)) {
    if (data == "[DONE]") break;
    auto chunk = Json(data);
    const auto& delta = chunk["choices"][0]["delta"];
    if (delta.HasMember("content")) content += delta["content"].GetString();
  }
  EXPECT_EQ(content, "Hello world!");
}

TEST_F(ApiRoutesTest, StreamingWithoutUsageHasNoUsageChunk) {
  auto r = Post("/v1/chat/completions", ChatBody(R"("stream":true)"));
  ASSERT_TRUE(r);
  auto events = SseData(r->body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    auto chunk = Json(events[i]);
    EXPECT_FALSE(chunk["choices"].Empty());
    EXPECT_FALSE(chunk.HasMember("usage"));
  }
}

TEST_F(ApiRoutesTest, CompletionWithTokenPromptAndLogprobs) {
  auto r = Post("/v1/completions", R"({"model":"smol","prompt":[5,6,7],"logprobs":1,"max_tokens":3})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto d = Json(r->body);
  EXPECT_EQ(std::string(d["id"].GetString()), "cmpl-" + r->get_header_value("X-Request-Id"));
  EXPECT_STREQ(d["object"].GetString(), "text_completion");
  EXPECT_STREQ(d["choices"][0]["text"].GetString(), "Hello world");
  EXPECT_EQ(d["choices"][0]["logprobs"]["tokens"].Size(), 3u);
  EXPECT_EQ(d["usage"]["prompt_tokens"].GetInt(), 3);
  EXPECT_EQ(engine_.requests()[0].prompt, (std::vector<int32_t>{5, 6, 7}));
}

TEST_F(ApiRoutesTest, CompletionTextPromptDoesNotParseSpecialTokens) {
  auto r = Post("/v1/completions", R"({"model":"smol","prompt":"<|im_start|>hello"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const model::Tokenizer& tok = *engine_.tokenizer("smol");
  EXPECT_EQ(engine_.requests()[0].prompt, tok.Encode("<|im_start|>hello", true, false));
  EXPECT_NE(engine_.requests()[0].prompt[0], 1);
}

TEST_F(ApiRoutesTest, StreamingCompletion) {
  auto r = Post("/v1/completions", R"({"model":"smol","prompt":"hello","stream":true})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto events = SseData(r->body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  std::string finish;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    auto chunk = Json(events[i]);
    EXPECT_STREQ(chunk["object"].GetString(), "text_completion");
    text += chunk["choices"][0]["text"].GetString();
    if (chunk["choices"][0]["finish_reason"].IsString()) finish = chunk["choices"][0]["finish_reason"].GetString();
  }
  EXPECT_EQ(text, "Hello world");
  EXPECT_EQ(finish, "stop");
}

TEST_F(ApiRoutesTest, BadRequestsNameTheParam) {
  ExpectError(Post("/v1/chat/completions", "not json"), 400, nullptr);
  ExpectError(Post("/v1/chat/completions", ChatBody(R"("n":0)")), 400, "n");
  ExpectError(Post("/v1/completions", R"({"model":"smol","prompt":"x","n":129})"), 400, "n");
  ExpectError(Post("/v1/chat/completions", ChatBody(R"("temperature":5)")), 400, "temperature");
  ExpectError(Post("/v1/chat/completions", R"({"model":"smol","messages":[]})"), 400, "messages");
  ExpectError(Post("/v1/completions", R"({"model":"smol","prompt":[1,99999]})"), 400, "prompt");
  ExpectError(Post("/v1/chat/completions", ChatBody(R"("max_tokens":5000)")), 400, "max_tokens",
              "context_length_exceeded");
  EXPECT_TRUE(engine_.requests().empty());
}

TEST_F(ApiRoutesTest, PromptLongerThanTheContext) {
  engine_.context = 8;
  ExpectError(Post("/v1/completions", R"({"model":"smol","prompt":[1,2,3,4,5,6,7,8]})"), 400, "prompt",
              "context_length_exceeded");
}

TEST_F(ApiRoutesTest, UnknownModelIs404) {
  auto r = Post("/v1/chat/completions", R"({"model":"gpt-9","messages":[{"role":"user","content":"x"}]})");
  ExpectError(r, 404, "model", "model_not_found");
}

TEST_F(ApiRoutesTest, ChatNeedsARecognisedTemplateButCompletionsDoNot) {
  ExpectError(Post("/v1/chat/completions", R"({"model":"plain","messages":[{"role":"user","content":"x"}]})"), 400,
              "model", "unsupported_chat_template");
  auto r = Post("/v1/completions", R"({"model":"plain","prompt":"hello"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

// A template the interpreter cannot parse, or one that fails on the messages, is a 400 that
// says why; the daemon stays up and serves the next request.
TEST_F(ApiRoutesTest, ChatTemplateErrorsAreBadRequests) {
  auto r = Post("/v1/chat/completions", R"({"model":"unparsable","messages":[{"role":"user","content":"x"}]})");
  ExpectError(r, 400, "model", "unsupported_chat_template");
  EXPECT_NE(r->body.find("does not parse"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("line 1"), std::string::npos) << r->body;
  r = Post("/v1/chat/completions", R"({"model":"raising","messages":[{"role":"user","content":"x"}]})");
  ExpectError(r, 400, "messages");
  EXPECT_NE(r->body.find("only one turn, please"), std::string::npos) << r->body;
  ASSERT_TRUE(Post("/v1/chat/completions", R"({"model":"smol","messages":[{"role":"user","content":"x"}]})"));
}

TEST_F(ApiRoutesTest, QueueFullIs429WithRetryAfter) {
  engine_.submit_status = Status::ResourceExhausted("queue full");
  auto r = Post("/v1/chat/completions", ChatBody());
  ExpectError(r, 429, nullptr);
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
}

TEST_F(ApiRoutesTest, EngineErrorIsAServerError) {
  engine_.finish_reason = "error";
  engine_.finish_status = Status::Internal("worker died");
  ExpectError(Post("/v1/chat/completions", ChatBody()), 500, nullptr);

  auto r = Post("/v1/chat/completions", ChatBody(R"("stream":true)"));
  ASSERT_TRUE(r);
  auto events = SseData(r->body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");
  auto error = Json(events[events.size() - 2]);
  EXPECT_TRUE(error.HasMember("error")) << r->body;
}

TEST_F(ApiRoutesTest, CancelledIs499AndNotToBeRetried) {
  engine_.finish_reason = "cancelled";  // an operator cancelled it (a client that left gets no answer)
  auto r = Post("/v1/chat/completions", ChatBody());
  ExpectError(r, 499, nullptr);
  EXPECT_FALSE(r->has_header("Retry-After"));
  EXPECT_EQ(r->get_header_value("x-should-retry"), "false");  // OpenAI's SDKs honour it
  auto body = Json(r->body);
  EXPECT_STREQ(body["error"]["code"].GetString(), "request_cancelled");
  EXPECT_NE(std::string(body["error"]["message"].GetString()).find("operator"), std::string::npos) << r->body;
}

TEST_F(ApiRoutesTest, ClientDisconnectCancelsANonStreamedRequest) {
  engine_.endless = true;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string body = ChatBody();
  std::string request = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
  request.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n").append(body);
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  for (int i = 0; i < 500 && engine_.requests().empty(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(engine_.requests().size(), 1u);
  EXPECT_FALSE(engine_.WaitCancelled(100, 200ms)) << "running while the client waits";
  ::close(fd);
  EXPECT_TRUE(engine_.WaitCancelled(100, 5s));
}

TEST_F(ApiRoutesTest, ConcurrentStreamsDoNotMix) {
  constexpr int kClients = 6;
  std::vector<std::string> bodies(kClients), ids(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      auto r = Post("/v1/chat/completions", ChatBody(R"("stream":true)"));
      if (!r) return;
      bodies[i] = r->body;
      ids[i] = r->get_header_value("X-Request-Id");
    });
  }
  for (auto& t : clients) t.join();
  std::set<std::string> distinct;
  for (int i = 0; i < kClients; ++i) {
    auto events = SseData(bodies[i]);
    ASSERT_FALSE(events.empty()) << "client " << i;
    EXPECT_EQ(events.back(), "[DONE]");
    std::string content;
    for (size_t k = 0; k + 1 < events.size(); ++k) {
      auto chunk = Json(events[k]);
      EXPECT_EQ(std::string(chunk["id"].GetString()), "chatcmpl-" + ids[i]);
      const auto& delta = chunk["choices"][0]["delta"];
      if (delta.HasMember("content")) content += delta["content"].GetString();
    }
    EXPECT_EQ(content, "Hello world");
    distinct.insert(ids[i]);
  }
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kClients));
}

TEST_F(ApiRoutesTest, ClientDisconnectCancelsTheStream) {
  engine_.endless = true;
  httplib::Client cli("127.0.0.1", port_);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = ChatBody(R"("stream":true)");
  req.set_header("Content-Type", "application/json");
  std::string request_id;
  int chunks = 0;
  req.response_handler = [&](const httplib::Response& res) {
    request_id = res.get_header_value("X-Request-Id");
    return true;
  };
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 3; };
  auto r = cli.send(req);
  EXPECT_FALSE(r);  // we hung up
  EXPECT_GE(chunks, 3);
  ASSERT_FALSE(request_id.empty());
  cli.stop();
  EXPECT_TRUE(engine_.WaitCancelled(std::stoull(request_id), 5s)) << "request " << request_id;
}

TEST_F(ApiRoutesTest, SeveralChoicesAreSeveralSeededRequests) {
  auto r = Post("/v1/chat/completions", ChatBody(R"("n":3,"seed":42,"logprobs":true)"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("X-Request-Id"), "100");
  EXPECT_EQ(r->get_header_value("X-Hearth-Choice-Request-Ids"), "100,101,102");
  EXPECT_EQ(r->get_header_value("X-Hearth-Seed"), "42");
  auto d = Json(r->body);
  EXPECT_STREQ(d["id"].GetString(), "chatcmpl-100");
  ASSERT_EQ(d["choices"].Size(), 3u);
  for (rapidjson::SizeType i = 0; i < 3; ++i) {
    const auto& choice = d["choices"][i];
    EXPECT_EQ(choice["index"].GetInt(), static_cast<int>(i));
    EXPECT_STREQ(choice["message"]["content"].GetString(), "Hello world");
    EXPECT_STREQ(choice["finish_reason"].GetString(), "stop");
    EXPECT_EQ(choice["logprobs"]["content"].Size(), 3u);
  }
  auto requests = engine_.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(requests[i].sampling.seed, 42u + i) << "choice " << i;
    EXPECT_EQ(requests[i].prompt, requests[0].prompt);
  }
  const int prompt_tokens = static_cast<int>(requests[0].prompt.size());
  EXPECT_EQ(d["usage"]["prompt_tokens"].GetInt(), prompt_tokens);
  EXPECT_EQ(d["usage"]["completion_tokens"].GetInt(), 9);
  EXPECT_EQ(d["usage"]["total_tokens"].GetInt(), prompt_tokens + 9);
}

TEST_F(ApiRoutesTest, StreamedChoicesCarryTheirIndex) {
  auto r = Post("/v1/completions",
                R"({"model":"smol","prompt":"hi","n":2,"stream":true,"stream_options":{"include_usage":true}})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("X-Hearth-Choice-Request-Ids"), "100,101");
  EXPECT_EQ(r->body.find("id: "), std::string::npos) << "the fanned-in stream has no event ids";
  auto events = SseData(r->body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  std::map<int, std::string> text, finish;
  int usage_chunks = 0;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    auto chunk = Json(events[i]);
    EXPECT_STREQ(chunk["id"].GetString(), "cmpl-100");
    if (chunk["choices"].Empty()) {
      ++usage_chunks;
      EXPECT_EQ(i, events.size() - 2) << "usage comes last, just before [DONE]";
      EXPECT_EQ(chunk["usage"]["completion_tokens"].GetInt(), 6);
      EXPECT_EQ(chunk["usage"]["prompt_tokens"].GetInt(), static_cast<int>(engine_.requests()[0].prompt.size()));
      continue;
    }
    const int index = chunk["choices"][0]["index"].GetInt();
    text[index] += chunk["choices"][0]["text"].GetString();
    if (chunk["choices"][0]["finish_reason"].IsString())
      finish[index] += chunk["choices"][0]["finish_reason"].GetString();
  }
  EXPECT_EQ(usage_chunks, 1);
  EXPECT_EQ(text, (std::map<int, std::string>{{0, "Hello world"}, {1, "Hello world"}}));
  EXPECT_EQ(finish, (std::map<int, std::string>{{0, "stop"}, {1, "stop"}}));
}

// A GET where only POST is routed: 405 with Allow and an id (hearthd's error handler gives it
// the OpenAI error body: tests/daemon_lifecycle_test.cc).
TEST_F(ApiRoutesTest, GetOnAPostRouteIs405WithAllow) {
  for (const char* path : {"/v1/chat/completions", "/v1/completions"}) {
    httplib::Client cli("127.0.0.1", port_);
    auto r = cli.Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405) << path;
    EXPECT_EQ(r->get_header_value("Allow"), "POST") << path;
    EXPECT_EQ(r->get_header_value("X-Request-Id").rfind("local-", 0), 0u);
  }
}

TEST_F(ApiRoutesTest, ChoicesAreAdmittedAllOrNone) {
  engine_.endless = true;
  engine_.max_accepted = 2;
  auto r = Post("/v1/chat/completions", ChatBody(R"("n":3)"));
  ExpectError(r, 429, nullptr);
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_EQ(r->get_header_value("X-Request-Id").rfind("local-", 0), 0u);
  ASSERT_EQ(engine_.requests().size(), 2u);
  EXPECT_TRUE(engine_.WaitCancelled(100, 5s));  // the two admitted choices are withdrawn
  EXPECT_TRUE(engine_.WaitCancelled(101, 5s));
}

TEST_F(ApiRoutesTest, ClientDisconnectCancelsEveryChoice) {
  engine_.endless = true;
  httplib::Client cli("127.0.0.1", port_);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = ChatBody(R"("stream":true,"n":2)");
  req.set_header("Content-Type", "application/json");
  std::string ids;
  int chunks = 0;
  req.response_handler = [&](const httplib::Response& res) {
    ids = res.get_header_value("X-Hearth-Choice-Request-Ids");
    return true;
  };
  req.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++chunks < 3; };
  EXPECT_FALSE(cli.send(req));  // we hung up
  cli.stop();
  ASSERT_EQ(ids, "100,101");
  EXPECT_TRUE(engine_.WaitCancelled(100, 5s));
  EXPECT_TRUE(engine_.WaitCancelled(101, 5s));
}

TEST_F(ApiRoutesTest, AFailedChoiceFailsTheRequest) {
  engine_.finish_reason = "error";
  engine_.finish_status = Status::Internal("worker died");
  ExpectError(Post("/v1/chat/completions", ChatBody(R"("n":2)")), 500, nullptr);
  auto r = Post("/v1/chat/completions", ChatBody(R"("n":2,"stream":true)"));
  ASSERT_TRUE(r);
  auto events = SseData(r->body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_TRUE(Json(events[events.size() - 2]).HasMember("error")) << r->body;
}

TEST_F(ApiRoutesTest, ModelById) {
  httplib::Client cli("127.0.0.1", port_);
  auto r = cli.Get("/v1/models/smol");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto d = Json(r->body);
  EXPECT_STREQ(d["id"].GetString(), "smol");
  EXPECT_STREQ(d["object"].GetString(), "model");
  EXPECT_EQ(d["created"].GetInt64(), 1234);
  ExpectError(cli.Get("/v1/models/nope"), 404, "model", "model_not_found");
}

TEST_F(ApiRoutesTest, NoEngineIs503) {
  Stop();
  Start([] { return static_cast<Engine*>(nullptr); });
  auto r = Post("/v1/chat/completions", ChatBody());
  ExpectError(r, 503, nullptr);
  EXPECT_TRUE(r->has_header("Retry-After"));
}

// The routes served through the daemon's MeteredEngine: a full queue is an immediate 429 with
// Retry-After in the OpenAI body, and a stopping engine a 503 with Retry-After.
TEST_F(ApiRoutesTest, QueueLimitIs429RateLimitErrorWithRetryAfter) {
  QueueGate gate({1, 0});
  ServerMetrics metrics;
  MeteredEngine metered(&engine_, &gate, &metrics);
  Stop();
  Start([&metered] { return static_cast<Engine*>(&metered); });
  ASSERT_EQ(gate.TryEnter(5), QueueRejection::kNone);  // one request waiting for its first token

  auto r = Post("/v1/chat/completions", ChatBody());
  ExpectError(r, 429, nullptr);
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  auto d = Json(r->body);
  EXPECT_STREQ(d["error"]["type"].GetString(), "rate_limit_error");
  EXPECT_NE(std::string(d["error"]["message"].GetString()).find("max_queued_requests"), std::string::npos);
  EXPECT_TRUE(engine_.requests().empty());  // refused before the engine saw it

  gate.Leave(5);
  r = Post("/v1/chat/completions", ChatBody());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(engine_.requests().size(), 1u);
  Stop();  // no handler may outlive `metered`
}

// With the store: a request the queue refuses is refused before it is stored (two synced
// writes, record and forget, would cost seconds in a burst): it takes no id.
TEST_F(ApiRoutesTest, AFullQueueRefusesBeforeTheRequestIsStored) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("api_routes_test_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    auto db = store::Database::Open((dir / "hearth.db").string());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    store::RequestStore store(db->get());
    RequestIds ids(7);
    RequestJournal journal(&store, &ids);
    QueueGate gate({1, 0});
    ServerMetrics metrics;
    MeteredEngine metered(&engine_, &gate, &metrics);
    Stop();
    Start([&metered] { return static_cast<Engine*>(&metered); }, &journal);
    ASSERT_EQ(gate.TryEnter(5), QueueRejection::kNone);
    auto r = Post("/v1/chat/completions", ChatBody());
    ExpectError(r, 429, nullptr);
    EXPECT_EQ(r->get_header_value("Retry-After"), "1");
    EXPECT_NE(metrics.Render({}).find("reason=\"queued_requests\"} 1"), std::string::npos);
    gate.Leave(5);
    r = Post("/v1/chat/completions", ChatBody());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    ASSERT_EQ(engine_.requests().size(), 1u);
    EXPECT_EQ(engine_.requests()[0].id, 7u) << "the refused request drew no id: it was never stored";
    Stop();
  }
  std::filesystem::remove_all(dir);
}

TEST_F(ApiRoutesTest, StoppingEngineIs503WithRetryAfter) {
  QueueGate gate({});
  ServerMetrics metrics;
  MeteredEngine metered(&engine_, &gate, &metrics);
  Stop();
  Start([&metered] { return static_cast<Engine*>(&metered); });
  engine_.submit_status = Status::Unavailable("the engine is not running");
  auto r = Post("/v1/chat/completions", ChatBody());
  ExpectError(r, 503, nullptr);
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_EQ(gate.load().requests, 0);
  Stop();
}

// --- POST /v1/messages (Anthropic's Messages API on the chat path) -----------------------------

// The events of an Anthropic stream: (event name, data), checking each data names its event.
std::vector<std::pair<std::string, std::string>> MessageEvents(const std::string& body) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) end = body.size();
    std::string event = body.substr(pos, end - pos);
    pos = end + 2;
    if (event.rfind("id: ", 0) == 0) event.erase(0, event.find('\n') + 1);
    if (event.rfind("event: ", 0) != 0) continue;
    const size_t nl = event.find('\n');
    std::string name = event.substr(7, nl - 7);
    std::string data = event.substr(nl + 1);
    EXPECT_EQ(data.rfind("data: ", 0), 0u) << event;
    data.erase(0, 6);
    EXPECT_NE(data.find("\"type\":\"" + name + "\""), std::string::npos) << event;
    out.emplace_back(std::move(name), std::move(data));
  }
  return out;
}

void ExpectAnthropicError(const httplib::Result& r, int status, const char* type) {
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, status) << r->body;
  rapidjson::Document d;
  d.Parse(r->body.c_str());
  ASSERT_TRUE(d.IsObject()) << r->body;
  EXPECT_STREQ(d["type"].GetString(), "error") << r->body;
  EXPECT_STREQ(d["error"]["type"].GetString(), type) << r->body;
  EXPECT_TRUE(d["error"]["message"].IsString());
}

TEST_F(ApiRoutesTest, MessagesRunAsAChatWithThePrefillAfterTheGenerationPrompt) {
  auto r = Post("/v1/messages", R"({"model":"smol","max_tokens":9,"system":"Be brief.","temperature":0,"top_k":7,
    "stop_sequences":["zzz"],"messages":[{"role":"user","content":[{"type":"text","text":"hello"}]},
    {"role":"assistant","content":"Hi,"}]})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto d = Json(r->body);
  EXPECT_STREQ(d["id"].GetString(), "msg_100");
  EXPECT_EQ(r->get_header_value("request-id"), "msg_100");
  EXPECT_EQ(r->get_header_value("X-Request-Id"), "100");
  EXPECT_STREQ(d["type"].GetString(), "message");
  EXPECT_STREQ(d["role"].GetString(), "assistant");
  EXPECT_STREQ(d["content"][0]["type"].GetString(), "text");
  EXPECT_STREQ(d["content"][0]["text"].GetString(), "Hello world");
  EXPECT_STREQ(d["stop_reason"].GetString(), "end_turn");
  EXPECT_TRUE(d["stop_sequence"].IsNull());

  auto requests = engine_.requests();
  ASSERT_EQ(requests.size(), 1u);
  const model::Tokenizer& tok = *engine_.tokenizer("smol");
  auto tmpl = model::ChatTemplate::FromJinja(tok.chat_template(), "<|im_end|>");
  ASSERT_TRUE(tmpl.ok());
  const std::vector<model::ChatMessage> messages = {{"system", "Be brief."}, {"user", "hello"}};
  auto text = tmpl->Render(messages, true);
  ASSERT_TRUE(text.ok());
  std::vector<int32_t> prompt = tok.Encode(*text, true, true);
  const std::vector<int32_t> prefill = tok.Encode("Hi,", false, false);
  prompt.insert(prompt.end(), prefill.begin(), prefill.end());
  EXPECT_EQ(requests[0].prompt, prompt);
  EXPECT_EQ(requests[0].max_tokens, 9);
  EXPECT_EQ(requests[0].sampling.temperature, 0.0f);
  EXPECT_EQ(requests[0].sampling.top_k, 7);
  EXPECT_EQ(requests[0].stop, (std::vector<std::string>{"zzz"}));
  EXPECT_EQ(d["usage"]["input_tokens"].GetInt(), static_cast<int>(prompt.size()));
  EXPECT_EQ(d["usage"]["output_tokens"].GetInt(), 3);
}

TEST_F(ApiRoutesTest, MessagesStreamAnthropicsEvents) {
  auto r = Post("/v1/messages", R"({"model":"smol","max_tokens":9,"stream":true,
    "messages":[{"role":"user","content":"hello"}]})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_EQ(r->body.find("[DONE]"), std::string::npos) << r->body;
  auto events = MessageEvents(r->body);
  std::vector<std::string> names;
  std::string text;
  for (const auto& [name, data] : events) {
    names.push_back(name);
    if (name == "content_block_delta") text += Json(data)["delta"]["text"].GetString();
  }
  EXPECT_EQ(text, "Hello world");
  ASSERT_GE(names.size(), 6u) << r->body;
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 3),
            (std::vector<std::string>{"message_start", "content_block_start", "ping"}));
  EXPECT_EQ(std::vector<std::string>(names.end() - 3, names.end()),
            (std::vector<std::string>{"content_block_stop", "message_delta", "message_stop"}));
  auto delta = Json(events[events.size() - 2].second);
  EXPECT_STREQ(delta["delta"]["stop_reason"].GetString(), "end_turn");
  EXPECT_EQ(delta["usage"]["output_tokens"].GetInt(), 3);
}

TEST_F(ApiRoutesTest, MessagesNameTheStopSequenceTheTokensSpelled) {
  engine_.script = {"Hel", "lo"};  // the fake engine's tokens spell each piece's first byte: "Hl"
  auto r = Post("/v1/messages", R"({"model":"smol","max_tokens":9,"stop_sequences":["zzz","l"],
    "messages":[{"role":"user","content":"hello"}]})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto d = Json(r->body);
  EXPECT_STREQ(d["stop_reason"].GetString(), "stop_sequence");
  EXPECT_STREQ(d["stop_sequence"].GetString(), "l");
  engine_.finish_reason = "length";
  d = Json(Post("/v1/messages", R"({"model":"smol","max_tokens":2,"stop_sequences":["l"],
    "messages":[{"role":"user","content":"hello"}]})")->body);
  EXPECT_STREQ(d["stop_reason"].GetString(), "max_tokens");
  EXPECT_TRUE(d["stop_sequence"].IsNull());
}

TEST_F(ApiRoutesTest, MessagesErrorsAreAnthropics) {
  const std::string ok = R"({"model":"smol","max_tokens":4,"messages":[{"role":"user","content":"hi"}]})";
  ExpectAnthropicError(Post("/v1/messages", "{"), 400, "invalid_request_error");
  ExpectAnthropicError(Post("/v1/messages", R"({"model":"smol","messages":[{"role":"user","content":"hi"}]})"), 400,
                       "invalid_request_error");
  const std::string hi = R"("messages":[{"role":"user","content":"hi"}]})";
  ExpectAnthropicError(Post("/v1/messages", R"({"model":"nope","max_tokens":4,)" + hi), 404, "not_found_error");
  ExpectAnthropicError(Post("/v1/messages", R"({"model":"smol","max_tokens":5000,)" + hi), 400,
                       "invalid_request_error");  // past the context
  engine_.submit_status = Status::ResourceExhausted("queue full");
  auto full = Post("/v1/messages", ok);
  ExpectAnthropicError(full, 429, "rate_limit_error");
  EXPECT_EQ(full->get_header_value("Retry-After"), "1");
  engine_.submit_status = Status::Ok();
  engine_.finish_reason = "error";
  engine_.finish_status = Status::Internal("worker died");
  ExpectAnthropicError(Post("/v1/messages", ok), 500, "api_error");
  auto streamed = Post("/v1/messages", R"({"model":"smol","max_tokens":4,"stream":true,
    "messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(streamed);
  auto events = MessageEvents(streamed->body);
  ASSERT_FALSE(events.empty()) << streamed->body;
  EXPECT_EQ(events.back().first, "error");
  EXPECT_STREQ(Json(events.back().second)["error"]["message"].GetString(), "worker died");
  engine_.finish_reason = "cancelled";
  engine_.finish_status = Status::Ok();
  auto cancelled = Post("/v1/messages", ok);
  ExpectAnthropicError(cancelled, 499, "api_error");
  EXPECT_EQ(cancelled->get_header_value("x-should-retry"), "false");
}

TEST_F(ApiRoutesTest, MessagesWithoutAnEngineAreOverloaded) {
  Stop();
  Start([] { return static_cast<Engine*>(nullptr); });
  auto r = Post("/v1/messages", R"({"model":"smol","max_tokens":4,"messages":[{"role":"user","content":"hi"}]})");
  ExpectAnthropicError(r, 529, "overloaded_error");
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
}

}  // namespace
}  // namespace hearth::daemon
