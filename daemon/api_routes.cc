// Generation routes. A handler validates and tokenizes on the HTTP thread, submits to the
// engine, then either waits for the finish (CollectingSink) or streams SSE from a queue that
// the engine's thread fills (StreamQueue) and the chunked content provider drains. A stream
// whose client went away cancels its request.
#include "daemon/api_routes.h"

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <random>
#include <string>

#include "common/log.h"
#include "daemon/engine.h"
#include "daemon/openai_error.h"
#include "daemon/openai_request.h"
#include "daemon/openai_response.h"
#include "model/chat_template.h"
#include "model/tokenizer.h"

namespace hearth::daemon {
namespace {

using Clock = std::chrono::steady_clock;

// How long the stream provider waits for an event before handing control back to the HTTP
// library (which then checks for shutdown), and how long a stream may be silent before a
// keep-alive comment goes out (a write is what finds a vanished client).
constexpr auto kStreamPoll = std::chrono::milliseconds(50);
constexpr auto kKeepAliveEvery = std::chrono::seconds(5);

uint64_t RandomU64() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void Fail(httplib::Response& res, const ApiError& error) { SetError(res, error); }

// A request that ended without finishing: the engine reports why, or it was cancelled (the
// engine is stopping, or nobody is reading).
ApiError UnfinishedError(const FinishEvent& finish) {
  if (!finish.status.ok()) return ErrorFromStatus(finish.status);
  return ApiError{503, "the request was cancelled before it finished", "server_error", "", ""};
}

ApiError BadRequest(std::string param, std::string message, std::string code = "") {
  return ApiError{400, std::move(message), "invalid_request_error", std::move(param), std::move(code)};
}

// The bytes of token `id` for logprobs (control tokens spelled out).
std::string TokenBytes(const model::Tokenizer& tokenizer, int32_t id) {
  std::string out;
  bool at_start = false;
  if (!tokenizer.AppendPiece(id, {.render_special = true}, &at_start, &out).ok()) return "";
  return out;
}

LogprobEntry ToLogprobEntry(const model::Tokenizer& tokenizer, const TokenEvent& event) {
  return LogprobEntry{TokenBytes(tokenizer, event.token), event.logprob, event.top};
}

// Templated (chat) or plain (completions) prompt -> token ids.
std::optional<ApiError> PromptTokens(const ApiRequest& request, const model::Tokenizer& tokenizer,
                                     std::vector<int32_t>* ids) {
  if (request.endpoint == ApiEndpoint::kCompletions) {
    if (request.prompt_is_tokens) {
      if (auto e = CheckPromptTokens(request, tokenizer.vocab_size())) return e;
      *ids = request.prompt_tokens;
    } else {
      *ids = tokenizer.Encode(request.prompt_text, /*add_special=*/true, /*parse_special=*/false);
    }
    return std::nullopt;
  }
  const std::string eos = tokenizer.eos_id() >= 0 ? tokenizer.token_text(tokenizer.eos_id()) : "";
  auto tmpl = model::ChatTemplate::FromJinja(tokenizer.chat_template(), eos);
  if (!tmpl.ok()) {
    return BadRequest("model",
                      "model '" + request.model + "' has no chat template Hearth can render (" +
                          tmpl.status().message() + "); use /v1/completions",
                      "unsupported_chat_template");
  }
  auto text = tmpl->Render(request.messages, /*add_generation_prompt=*/true);
  if (!text.ok()) return BadRequest("messages", text.status().message());
  *ids = tokenizer.Encode(*text, /*add_special=*/true, /*parse_special=*/true);
  return std::nullopt;
}

// --- Non-streaming ---------------------------------------------------------------------------

class CollectingSink : public RequestSink {
 public:
  CollectingSink(const model::Tokenizer* tokenizer, bool logprobs) : tokenizer_(tokenizer), logprobs_(logprobs) {}

  void OnToken(const TokenEvent& event) override {
    std::lock_guard<std::mutex> lock(mu_);
    output_.text += event.text;
    if (logprobs_) output_.tokens.push_back(ToLogprobEntry(*tokenizer_, event));
  }

  void OnFinish(const FinishEvent& event) override {
    std::lock_guard<std::mutex> lock(mu_);
    finish_ = event;
    output_.text += event.text;
    done_ = true;
    cv_.notify_all();
  }

  // Blocks until OnFinish; returns the output and the finish event.
  CompletionOutput Wait(FinishEvent* finish) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return done_; });
    *finish = finish_;
    CompletionOutput out = std::move(output_);
    out.finish_reason = finish_.finish_reason;
    out.usage = {finish_.prompt_tokens, finish_.completion_tokens};
    out.logprobs = logprobs_;
    return out;
  }

 private:
  // Constant after construction.
  const model::Tokenizer* const tokenizer_;
  const bool logprobs_;

  std::mutex mu_;
  std::condition_variable cv_;
  CompletionOutput output_;  // GUARDED_BY(mu_)
  FinishEvent finish_;       // GUARDED_BY(mu_)
  bool done_ = false;        // GUARDED_BY(mu_)
};

// --- Streaming -------------------------------------------------------------------------------

struct StreamEvent {
  bool is_finish = false;
  TokenEvent token;
  FinishEvent finish;
};

// Filled on the engine's thread, drained on the HTTP thread.
class StreamQueue : public RequestSink {
 public:
  void OnToken(const TokenEvent& event) override { Push(StreamEvent{false, event, {}}); }
  void OnFinish(const FinishEvent& event) override { Push(StreamEvent{true, {}, event}); }

  // Waits up to `timeout` for events and takes all of them.
  std::deque<StreamEvent> Take(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return !events_.empty(); });
    std::deque<StreamEvent> out;
    out.swap(events_);
    return out;
  }

 private:
  void Push(StreamEvent event) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
    cv_.notify_one();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StreamEvent> events_;  // GUARDED_BY(mu_)
};

// One stream's writer, owned by the content provider (only the HTTP thread touches it).
struct StreamWriter {
  Engine* engine = nullptr;
  uint64_t request_id = 0;
  const model::Tokenizer* tokenizer = nullptr;
  std::shared_ptr<StreamQueue> queue;
  ResponseMeta meta;
  bool chat = true;
  bool logprobs = false;
  bool include_usage = false;

  bool started = false;
  bool finished = false;  // [DONE] written
  size_t text_offset = 0;
  Clock::time_point last_write = Clock::now();

  // Writes every queued event; false when the client is gone.
  bool Pump(httplib::DataSink& sink) {
    if (!started) {
      started = true;
      if (chat && !Write(sink, SseEvent(ChatRoleChunk(meta)))) return false;
    }
    for (StreamEvent& event : queue->Take(kStreamPoll)) {
      if (event.is_finish) return Finish(sink, event.finish);
      if (!WriteToken(sink, event.token)) return false;
    }
    if (Clock::now() - last_write > kKeepAliveEvery) return Write(sink, ": keep-alive\n\n");
    return true;
  }

  bool WriteToken(httplib::DataSink& sink, const TokenEvent& token) {
    if (token.text.empty() && !logprobs) return true;
    std::vector<LogprobEntry> entries;
    if (logprobs) entries.push_back(ToLogprobEntry(*tokenizer, token));
    const auto* lp = logprobs ? &entries : nullptr;
    std::string json = chat ? ChatContentChunk(meta, token.text, lp) : TextChunk(meta, token.text, lp, text_offset, "");
    text_offset += token.text.size();
    return Write(sink, SseEvent(json));
  }

  bool Finish(httplib::DataSink& sink, const FinishEvent& finish) {
    finished = true;  // the engine is done with the request: nothing left to cancel
    bool ok = finish.finish_reason == "error" || finish.finish_reason == "cancelled"
                  ? Write(sink, SseEvent(ErrorBody(UnfinishedError(finish))))
                  : WriteEnding(sink, finish);
    if (ok) ok = Write(sink, std::string(kSseDone));
    if (ok) sink.done();
    return ok;
  }

  // Held-back text, the finish_reason, and the usage when asked for.
  bool WriteEnding(httplib::DataSink& sink, const FinishEvent& finish) {
    if (!finish.text.empty()) {
      static const std::vector<LogprobEntry> kNoTokens;  // that text has no token of its own
      const auto* lp = logprobs ? &kNoTokens : nullptr;
      std::string json =
          chat ? ChatContentChunk(meta, finish.text, lp) : TextChunk(meta, finish.text, lp, text_offset, "");
      text_offset += finish.text.size();
      if (!Write(sink, SseEvent(json))) return false;
    }
    std::string last = chat ? ChatFinishChunk(meta, finish.finish_reason)
                            : TextChunk(meta, "", nullptr, text_offset, finish.finish_reason);
    if (!Write(sink, SseEvent(last))) return false;
    if (!include_usage) return true;
    return Write(sink, SseEvent(UsageChunk(meta, chat, {finish.prompt_tokens, finish.completion_tokens})));
  }

  bool Write(httplib::DataSink& sink, const std::string& data) {
    last_write = Clock::now();
    return sink.write(data.data(), data.size());
  }
};

// --- Handlers --------------------------------------------------------------------------------

class OpenAiRoutes {
 public:
  explicit OpenAiRoutes(ApiRoutesOptions options) : options_(std::move(options)) {}

  void Completion(ApiEndpoint endpoint, const httplib::Request& req, httplib::Response& res) {
    Prepared p;
    if (auto e = Prepare(endpoint, req.body, &p)) return FailBeforeSubmit(res, *e);
    const uint64_t seed = p.gen.sampling.seed;
    std::shared_ptr<CollectingSink> collector;
    std::shared_ptr<StreamQueue> queue;
    std::shared_ptr<RequestSink> sink;
    if (p.request.stream) {
      sink = queue = std::make_shared<StreamQueue>();
    } else {
      sink = collector = std::make_shared<CollectingSink>(p.tokenizer, p.request.logprobs);
    }
    StatusOr<uint64_t> id = p.engine->Submit(std::move(p.gen), sink);
    if (!id.ok()) return FailBeforeSubmit(res, ErrorFromStatus(id.status()));

    res.set_header("X-Request-Id", std::to_string(*id));
    res.set_header("X-Hearth-Seed", std::to_string(seed));
    LogInfo("request submitted")
        .Kv("id", *id)
        .Kv("model", p.request.model)
        .Kv("seed", seed)
        .Kv("stream", p.request.stream);
    const bool chat = endpoint == ApiEndpoint::kChatCompletions;
    ResponseMeta meta{(chat ? "chatcmpl-" : "cmpl-") + std::to_string(*id), UnixNow(), p.request.model};
    if (!p.request.stream) return RespondWhenDone(res, chat, meta, *collector);

    auto writer = std::make_shared<StreamWriter>();
    writer->engine = p.engine;
    writer->request_id = *id;
    writer->tokenizer = p.tokenizer;
    writer->queue = queue;
    writer->meta = std::move(meta);
    writer->chat = chat;
    writer->logprobs = p.request.logprobs;
    writer->include_usage = p.request.include_usage;
    Stream(res, std::move(writer));
  }

  void Model(const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
    Engine* engine = options_.engine ? options_.engine() : nullptr;
    if (!engine || !engine->tokenizer(name)) return FailBeforeSubmit(res, ModelNotFound(name));
    res.set_header("X-Request-Id", LocalId());
    res.set_content(ModelObjectJson(name, options_.created_unix), "application/json");
  }

 private:
  // A request ready for the engine.
  struct Prepared {
    ApiRequest request;
    Engine* engine = nullptr;
    const model::Tokenizer* tokenizer = nullptr;
    GenerationRequest gen;
  };

  // Validates, finds the model, tokenizes, fits the context and settles the seed.
  std::optional<ApiError> Prepare(ApiEndpoint endpoint, const std::string& body, Prepared* p) {
    if (auto e = ParseApiRequest(endpoint, body, &p->request)) return e;
    p->engine = options_.engine ? options_.engine() : nullptr;
    if (!p->engine) return ApiError{503, "the engine is not running", "server_error", "", ""};
    p->tokenizer = p->engine->tokenizer(p->request.model);
    if (!p->tokenizer) return ModelNotFound(p->request.model);
    if (auto e = PromptTokens(p->request, *p->tokenizer, &p->gen.prompt)) return e;
    const int32_t context = p->engine->context_length(p->request.model);
    if (auto e = FitToContext(p->request, p->gen.prompt.size(), context, &p->gen.max_tokens)) return e;
    p->gen.model = p->request.model;
    p->gen.sampling = p->request.sampling;
    p->gen.sampling.seed = p->request.seed ? *p->request.seed : RandomU64();
    p->gen.stop = p->request.stop;
    return std::nullopt;
  }

  static void RespondWhenDone(httplib::Response& res, bool chat, const ResponseMeta& meta, CollectingSink& collector) {
    FinishEvent finish;
    CompletionOutput output = collector.Wait(&finish);
    if (finish.finish_reason == "error" || finish.finish_reason == "cancelled") {
      return Fail(res, UnfinishedError(finish));
    }
    res.set_content(chat ? ChatCompletionJson(meta, output) : TextCompletionJson(meta, output), "application/json");
  }

  static void Stream(httplib::Response& res, std::shared_ptr<StreamWriter> writer) {
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream", [writer](size_t, httplib::DataSink& sink) { return writer->Pump(sink); },
        [writer](bool) {
          if (!writer->finished) {
            LogInfo("stream closed early; cancelling").Kv("id", writer->request_id);
            writer->engine->Cancel(writer->request_id);
          }
        });
  }

  // Requests that never reached the engine get an id of their own, so that every response
  // can be quoted in a bug report.
  static std::string LocalId() {
    char buf[24];
    snprintf(buf, sizeof(buf), "local-%016llx", static_cast<unsigned long long>(RandomU64()));
    return buf;
  }

  static void FailBeforeSubmit(httplib::Response& res, const ApiError& error) {
    res.set_header("X-Request-Id", LocalId());
    Fail(res, error);
  }

  const ApiRoutesOptions options_;
};

// No handler lets an exception out: whatever escapes is a 500 in the OpenAI format.
template <typename Fn>
httplib::Server::Handler Guarded(Fn fn) {
  return [fn](const httplib::Request& req, httplib::Response& res) {
    try {
      fn(req, res);
    } catch (const std::exception& e) {
      LogError("api handler threw").Kv("path", req.path).Kv("what", e.what());
      SetError(res, {500, "internal error", "server_error", "", ""});
    } catch (...) {
      LogError("api handler threw").Kv("path", req.path);
      SetError(res, {500, "internal error", "server_error", "", ""});
    }
  };
}

}  // namespace

void RegisterOpenAiRoutes(httplib::Server& server, ApiRoutesOptions options) {
  auto routes = std::make_shared<OpenAiRoutes>(std::move(options));
  server.Post("/v1/chat/completions", Guarded([routes](const httplib::Request& req, httplib::Response& res) {
                routes->Completion(ApiEndpoint::kChatCompletions, req, res);
              }));
  server.Post("/v1/completions", Guarded([routes](const httplib::Request& req, httplib::Response& res) {
                routes->Completion(ApiEndpoint::kCompletions, req, res);
              }));
  server.Get(R"(/v1/models/(.+))",
             Guarded([routes](const httplib::Request& req, httplib::Response& res) { routes->Model(req, res); }));
}

}  // namespace hearth::daemon
