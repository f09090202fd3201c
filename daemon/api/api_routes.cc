// Generation routes. A handler validates and tokenizes on the HTTP thread, makes the request's
// registry entry, submits to the engine with the entry's sink, then either waits for the finish
// (CollectingSink, fed through the entry) or streams the events the entry records (see
// event_stream.h). A stream whose client went away cancels its request. A request for n > 1
// choices becomes n engine requests (seeds seed, seed+1, ...), admitted all or none, and fanned
// back in: one response, or one stream through a ChoiceStream.
#include "daemon/api/api_routes.h"

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "common/log.h"
#include "daemon/anthropic/anthropic_error.h"
#include "daemon/anthropic/message_stream.h"
#include "daemon/anthropic/messages_request.h"
#include "daemon/api/choice_stream.h"
#include "daemon/api/prompt_tokens.h"
#include "daemon/openai/chunk_encoder.h"
#include "daemon/durability/durable_params.h"
#include "daemon/engine/engine.h"
#include "daemon/api/event_stream.h"
#include "daemon/http/router.h"
#include "daemon/openai/openai_error.h"
#include "daemon/openai/openai_request.h"
#include "daemon/openai/openai_response.h"
#include "daemon/durability/request_journal.h"
#include "daemon/requests/request_id_text.h"
#include "daemon/requests/request_registry.h"
#include "daemon/api/finish_waiter.h"
#include "daemon/openai/request_json.h"
#include "model/chat_template.h"
#include "model/tokenizer.h"

namespace hearth::daemon {
namespace {

// How often a handler waiting for a non-streamed answer looks whether its client is still there.
constexpr std::chrono::milliseconds kClientCheckInterval{100};

uint64_t RandomU64() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void Fail(httplib::Response& res, const ApiError& error) { SetError(res, error); }

// --- Non-streaming ---------------------------------------------------------------------------

// A non-streamed request waits with a FinishWaiter; its answer itself is read from the request's
// entry, which records every event before the sink sees it (RequestEntry::Tee).

// A finished request's non-streamed answer, from what its entry recorded: the first answer and
// an idempotent retry's (before or after a restart) are built alike, logprobs included.
CompletionOutput CompletionOf(const RequestInfo& info) {
  CompletionOutput out;
  out.text = info.text;
  // Chat with tools: the calls the text holds, read as the stream read them.
  if (const auto format = ParseToolCallFormat(info.meta.tool_format); format && *format != ToolCallFormat::kNone) {
    ParsedToolOutput parsed = ParseToolOutput(*format, info.text);
    out.text = std::move(parsed.content);
    for (size_t i = 0; i < parsed.calls.size(); ++i) {
      out.tool_calls.push_back({ToolCallId(info.id, static_cast<int32_t>(i)), std::move(parsed.calls[i].name),
                                std::move(parsed.calls[i].arguments)});
    }
  }
  out.finish_reason = info.finish_reason.value_or(FinishReason::kStop);
  out.usage = {info.meta.prompt_tokens, info.completion_tokens, info.cached_tokens};
  out.logprobs = info.meta.logprobs;
  out.tokens = info.logprob_tokens;
  return out;
}

// How a request's entry records its stream and how a refusal is written: the OpenAI formats
// by default.
struct EntryFormat {
  std::string endpoint;                    // RequestMeta::endpoint; empty: by chunks.chat
  std::unique_ptr<EventEncoder> encoder;  // null: MakeChunkEncoder(chunks)
  void (*fail)(httplib::Response&, const ApiError&) = &Fail;
};

// --- Handlers --------------------------------------------------------------------------------

class OpenAiRoutes {
 public:
  explicit OpenAiRoutes(ApiRoutesOptions options) : options_(std::move(options)) {
    if (!options_.registry) {
      own_registry_ = std::make_unique<MemoryRequestRegistry>();
      options_.registry = own_registry_.get();
    }
  }

  void Completion(ApiEndpoint endpoint, const httplib::Request& req, httplib::Response& res) {
    if (options_.draining && options_.draining()) {
      return FailBeforeSubmit(res, {503, "hearthd is draining and admits no new requests; retry on another node",
                                    "server_error", "", "draining"});
    }
    const std::string key = options_.journal ? req.get_header_value("Idempotency-Key") : "";
    if (!key.empty() && ServeExisting(key, res)) return;
    Prepared p;
    if (auto e = Prepare(endpoint, req.body, &p)) return FailBeforeSubmit(res, *e);
    const int32_t n = p.request.n;
    if (n > 1 && !key.empty()) {
      return FailBeforeSubmit(res, BadParam("Idempotency-Key", "Idempotency-Key is not supported with n > 1"));
    }
    if (options_.journal) {
      // Overload answers 429 before anything is written: storing, then forgetting, a request
      // the queue refuses costs two synced writes each, and seconds in a burst.
      if (Status admit = p.engine->CheckAdmission(p.request.model, static_cast<int64_t>(p.gen.prompt.size()));
          !admit.ok()) {
        return FailBeforeSubmit(res, ErrorFromStatus(admit));
      }
    }
    const uint64_t seed = p.gen.sampling.seed;
    const bool chat = endpoint == ApiEndpoint::kChatCompletions;
    const ChunkEncoderOptions chunks{.chat = chat,
                                     .model = p.request.model,
                                     .created = UnixNow(),
                                     .logprobs = p.request.logprobs,
                                     .include_usage = p.request.include_usage,
                                     .id_scope = options_.id_scope,
                                     .tool_format = p.tool_format};
    // n > 1: every choice is an engine request of its own, fanned in here.
    std::shared_ptr<ChoiceStream> fan_in;
    if (p.request.stream && n > 1) fan_in = ChoiceStream::Create(chunks, n);
    std::vector<Choice> choices(static_cast<size_t>(n));
    for (int32_t i = 0; i < n; ++i) {
      Choice& c = choices[static_cast<size_t>(i)];
      c.gen = p.gen;
      c.gen.sampling.seed = seed + static_cast<uint64_t>(i);  // choice 0 is the n=1 answer
      if (!p.request.stream) c.collector = std::make_shared<FinishWaiter>();
      // The scheduler computes the shared prompt once: the later choices wait for the blocks
      // choice 0 is computing and take them from the prefix cache.
      std::shared_ptr<RequestSink> downstream = fan_in ? fan_in->Sink(i) : c.collector;
      if (!SubmitChoice(p, key, chunks, std::move(downstream), &c, res)) return Withdraw(p.engine, choices, i);
    }
    for (const Choice& c : choices) options_.registry->Add(c.id, c.entry);

    const uint64_t id = choices[0].id;
    res.set_header("X-Request-Id", RequestIdText(options_.id_scope, id));
    res.set_header("X-Hearth-Seed", std::to_string(seed));
    std::string ids;
    for (const Choice& c : choices) ids.append(ids.empty() ? "" : ",").append(RequestIdText(options_.id_scope, c.id));
    if (n > 1) res.set_header("X-Hearth-Choice-Request-Ids", ids);
    LogInfo("request submitted")
        .Kv("id", ids)
        .Kv("model", p.request.model)
        .Kv("seed", seed)
        .Kv("stream", p.request.stream);
    ResponseMeta meta{(chat ? "chatcmpl-" : "cmpl-") + RequestIdText(options_.id_scope, id), chunks.created,
                      p.request.model};
    if (!p.request.stream) return RespondWhenDone(req, res, chat, meta, p.engine, choices);

    std::vector<uint64_t> choice_ids;
    for (const Choice& c : choices) choice_ids.push_back(c.id);
    auto cancel_all = [engine = p.engine, choice_ids] {
      LogInfo("stream closed early; cancelling").Kv("id", choice_ids[0]);
      for (uint64_t choice_id : choice_ids) engine->Cancel(choice_id);
    };
    if (!fan_in) return ServeEventStream(res, std::move(choices[0].entry), /*after=*/0, cancel_all,
                                             options_.open_streams);
    fan_in->Begin(id);
    // No event ids: GET /v1/requests/{id}/events replays choice 0 alone, so they could not
    // resume this stream.
    EventSource source;
    source.read = [fan_in](uint64_t after, std::chrono::milliseconds wait) { return fan_in->Read(after, wait); };
    source.ended = [fan_in] { return fan_in->ended(); };
    source.with_ids = false;
    std::vector<std::shared_ptr<RequestEntry>> entries;
    for (const Choice& c : choices) entries.push_back(c.entry);
    source.subscribe = [entries](std::function<void()> waker) {
      for (const auto& e : entries) e->AddWaker(waker);
    };
    ServeEvents(res, std::move(source), cancel_all, options_.open_streams);  // a failed choice, too, cancels the rest
  }

  // POST /v1/messages: Anthropic's Messages API on the chat path (journal, registry, engine),
  // answered in Anthropic's formats. One choice; no Idempotency-Key.
  void Messages(const httplib::Request& req, httplib::Response& res) {
    if (options_.draining && options_.draining()) {
      return SetAnthropicError(res, {503, "hearthd is draining and admits no new requests; retry on another node",
                                     "server_error", "", "draining"});
    }
    MessagesRequest m;
    if (auto e = ParseMessagesRequest(req.body, &m)) return SetAnthropicError(res, *e);
    Prepared p;
    p.request = std::move(m.request);
    p.prefill = std::move(m.prefill);
    if (auto e = PrepareParsed(&p)) return SetAnthropicError(res, *e);
    if (options_.journal) {
      if (Status admit = p.engine->CheckAdmission(p.request.model, static_cast<int64_t>(p.gen.prompt.size()));
          !admit.ok()) {
        return SetAnthropicError(res, ErrorFromStatus(admit));
      }
    }
    const ChunkEncoderOptions chunks{.chat = true, .model = p.request.model, .created = UnixNow(),
                                     .id_scope = options_.id_scope};
    Choice c;
    c.gen = p.gen;
    if (!p.request.stream) c.collector = std::make_shared<FinishWaiter>();
    EntryFormat format{"messages",
                       MakeMessageEncoder({p.request.model, options_.id_scope,
                                           static_cast<int32_t>(p.gen.prompt.size()), m.stop_sequences}),
                       &SetAnthropicError};
    if (!SubmitChoice(p, "", chunks, c.collector, &c, res, std::move(format))) return;
    options_.registry->Add(c.id, c.entry);
    res.set_header("X-Request-Id", RequestIdText(options_.id_scope, c.id));
    res.set_header("request-id", MessageId(options_.id_scope, c.id));  // what Anthropic's SDKs read
    res.set_header("X-Hearth-Seed", std::to_string(p.gen.sampling.seed));
    LogInfo("request submitted").Kv("id", c.id).Kv("model", p.request.model).Kv("stream", p.request.stream);
    if (!p.request.stream) {
      const FinishEvent finish = c.collector->Wait();
      if (!IsCompleted(finish.finish_reason)) return SetAnthropicError(res, UnfinishedError(finish));
      const MessageOutput out = MessageOf(c.entry->Info(), options_.id_scope, *p.tokenizer, m.stop_sequences);
      return res.set_content(MessageJson(out), "application/json");
    }
    auto cancel = [engine = p.engine, id = c.id] {
      LogInfo("stream closed early; cancelling").Kv("id", id);
      engine->Cancel(id);
    };
    // Its entry's endpoint gives the stream Anthropic's framing, here and in every replay.
    ServeEventStream(res, std::move(c.entry), /*after=*/0, cancel, options_.open_streams);
  }

  void Model(const httplib::Request& req, httplib::Response& res) {
    const std::string name = req.matches.size() > 1 ? std::string(req.matches[1]) : "";
    Engine* engine = options_.engine ? options_.engine() : nullptr;
    if (!engine || !engine->tokenizer(name)) return FailBeforeSubmit(res, ModelNotFound(name));
    res.set_content(ModelObjectJson(name, options_.created_unix, engine->context_length(name)), "application/json");
  }

 private:
  // A request ready for the engine.
  struct Prepared {
    ApiRequest request;
    Engine* engine = nullptr;
    const model::Tokenizer* tokenizer = nullptr;
    GenerationRequest gen;
    std::string prefill;  // Messages: a final assistant turn the answer continues
    ToolCallFormat tool_format = ToolCallFormat::kNone;  // chat with tools: how calls are read
  };

  // One choice of a request: an engine request of its own, stored, registered and cancelled
  // like any other.
  struct Choice {
    GenerationRequest gen;
    std::shared_ptr<RequestEntry> entry;
    std::shared_ptr<FinishWaiter> collector;  // when not streamed
    uint64_t id = 0;
  };

  // Stores (the commit rule) and submits one choice. False when it was refused, with the
  // answer already in `res`.
  bool SubmitChoice(const Prepared& p, const std::string& key, const ChunkEncoderOptions& chunks,
                    std::shared_ptr<RequestSink> downstream, Choice* c, httplib::Response& res,
                    EntryFormat format = {}) {
    if (options_.journal) {
      DurableParams durable{c->gen,        chunks.chat, p.request.stream, p.request.logprobs, chunks.include_usage,
                            chunks.created};
      durable.messages = format.endpoint == "messages";
      durable.tool_format = ToolCallFormatName(chunks.tool_format);
      StatusOr<uint64_t> stored = options_.journal->Record(durable, c->gen.prompt, key);
      if (!stored.ok() && !key.empty() && ServeExisting(key, res)) return false;  // a concurrent retry won
      if (!stored.ok()) {
        LogError("cannot store a request").Kv("error", stored.status().ToString());
        format.fail(res, {503, "cannot store the request; retry later", "server_error", "", ""});
        return false;
      }
      c->gen.id = *stored;
    }
    // The choice's own entry records it as an n=1 request (GET /v1/requests/{id}).
    if (format.endpoint.empty()) format.endpoint = chunks.chat ? "chat.completions" : "completions";
    if (!format.encoder) format.encoder = MakeChunkEncoder(chunks);
    c->entry = RequestEntry::Create({p.request.model, format.endpoint, p.request.stream,
                                     static_cast<int32_t>(c->gen.prompt.size()), chunks.created, p.request.logprobs,
                                     ToolCallFormatName(chunks.tool_format)},
                                    std::move(format.encoder));
    const uint64_t stored_id = c->gen.id;
    StatusOr<uint64_t> id = p.engine->Submit(std::move(c->gen), c->entry->Tee(std::move(downstream)));
    if (!id.ok()) {
      if (options_.journal) options_.journal->Forget(stored_id);
      // A model removed after validation is gone: the OpenAI not-found error, not a 400.
      format.fail(res, id.status().code() == Status::Code::kNotFound ? ModelNotFound(p.request.model)
                                                                     : ErrorFromStatus(id.status()));
      return false;
    }
    c->id = *id;
    return true;
  }

  // Admission is all or nothing: choice `refused` was refused, so the ones before it are
  // cancelled and, once they ended, forgotten by the journal (nobody learnt their ids).
  void Withdraw(Engine* engine, std::vector<Choice>& choices, int32_t refused) {
    for (int32_t i = 0; i < refused; ++i) {
      Choice& c = choices[static_cast<size_t>(i)];
      c.entry->Attach(c.id, nullptr);  // never registered; attached so that WaitDone works
      engine->Cancel(c.id);
    }
    for (int32_t i = 0; i < refused; ++i) {
      const Choice& c = choices[static_cast<size_t>(i)];
      // Its end is committed before it is delivered, so the row can go once it is done.
      if (!c.entry->WaitDone(std::chrono::seconds(5))) {
        LogWarn("a withdrawn choice did not end in time").Kv("id", c.id);
        continue;
      }
      if (options_.journal) options_.journal->Forget(c.id);
    }
  }

  // Validates, finds the model, tokenizes, fits the context and settles the seed.
  std::optional<ApiError> Prepare(ApiEndpoint endpoint, const std::string& body, Prepared* p) {
    if (auto e = ParseApiRequest(endpoint, body, &p->request)) return e;
    return PrepareParsed(p);
  }

  // Prepare, for a request already parsed into p->request (and p->prefill).
  std::optional<ApiError> PrepareParsed(Prepared* p) {
    p->engine = options_.engine ? options_.engine() : nullptr;
    if (!p->engine) return ApiError{503, "the engine is not running", "server_error", "", ""};
    p->tokenizer = p->engine->tokenizer(p->request.model);
    if (!p->tokenizer) return ModelNotFound(p->request.model);
    if (auto e = CheckTokenFields(p->request, p->tokenizer->vocab_size())) return e;
    if (auto e = PromptTokens(p->request, *p->tokenizer, &p->gen.prompt, &p->tool_format)) return e;
    if (!p->prefill.empty()) {  // the answer continues it: no special tokens, as a model's own text
      const std::vector<int32_t> prefill = p->tokenizer->Encode(p->prefill, /*add_special=*/false,
                                                                /*parse_special=*/false);
      p->gen.prompt.insert(p->gen.prompt.end(), prefill.begin(), prefill.end());
    }
    const int32_t context = p->engine->context_length(p->request.model);
    if (auto e = FitToContext(p->request, p->gen.prompt.size(), context, &p->gen.max_tokens)) return e;
    p->gen.model = p->request.model;
    p->gen.sampling = p->request.sampling;
    p->gen.sampling.seed = p->request.seed ? *p->request.seed : RandomU64();
    p->gen.stop = p->request.stop;
    return std::nullopt;
  }

  // Idempotency-Key: a retry gets the request already stored under the key, as that request
  // was asked for (its stream from the start, or its result once finished). False when the
  // key is new.
  bool ServeExisting(const std::string& key, httplib::Response& res) {
    StatusOr<std::optional<uint64_t>> found = options_.journal->FindByIdempotencyKey(key);
    if (!found.ok() || !found->has_value()) return false;
    const uint64_t id = **found;
    std::shared_ptr<RequestEntry> entry = options_.registry->Find(id);
    res.set_header("X-Request-Id", RequestIdText(options_.id_scope, id));
    res.set_header("X-Hearth-Idempotent-Replay", "true");
    if (!entry) {
      Fail(res, {409, "the request stored under this Idempotency-Key is not available", "invalid_request_error",
                 "Idempotency-Key", "idempotency_key_unavailable"});
      return true;
    }
    LogInfo("idempotent retry").Kv("id", id);
    const RequestInfo first = entry->Info(/*with_output=*/false);
    if (first.meta.stream) {
      ServeEventStream(res, std::move(entry), /*after=*/0, nullptr, options_.open_streams);
      return true;
    }
    while (!entry->WaitDone(std::chrono::seconds(1))) {
    }
    const RequestInfo info = entry->Info();
    const bool chat = info.meta.endpoint == "chat.completions";
    if (info.state != RequestState::kFinished) {
      FinishEvent finish;
      finish.finish_reason = info.finish_reason.value_or(FinishReason::kError);
      if (!info.error.empty()) finish.status = Status::Unavailable(info.error);
      Fail(res, UnfinishedError(finish));
      return true;
    }
    const CompletionOutput output = CompletionOf(info);
    const ResponseMeta meta{(chat ? "chatcmpl-" : "cmpl-") + RequestIdText(options_.id_scope, id), info.meta.created_unix,
                            info.meta.model};
    res.set_content(chat ? ChatCompletionJson(meta, output) : TextCompletionJson(meta, output), "application/json");
    return true;
  }

  // Waits for every choice; the first that failed or was cancelled is the answer (and cancels
  // the rest).
  // A client that goes away meanwhile cancels them all, which frees their KV blocks: nobody is
  // left to read the answer.
  static void RespondWhenDone(const httplib::Request& req, httplib::Response& res, bool chat,
                              const ResponseMeta& meta, Engine* engine, std::vector<Choice>& choices) {
    std::vector<CompletionOutput> outputs;
    for (Choice& c : choices) {
      while (!c.collector->WaitFor(kClientCheckInterval)) {
        if (http::ClientConnected(req)) continue;
        LogInfo("client went away; cancelling").Kv("id", choices[0].id);
        for (const Choice& other : choices) engine->Cancel(other.id);
        return;
      }
      const FinishEvent finish = c.collector->Wait();
      outputs.push_back(CompletionOf(c.entry->Info()));
      if (!IsCompleted(finish.finish_reason)) {
        for (const Choice& other : choices) engine->Cancel(other.id);
        return Fail(res, UnfinishedError(finish));
      }
    }
    res.set_content(chat ? ChatCompletionJson(meta, outputs) : TextCompletionJson(meta, outputs), "application/json");
  }

  // A request that never reached the engine has no request id: the router gives its response
  // a local one (http::kRequestIdHeader), as it does every response without one.
  static void FailBeforeSubmit(httplib::Response& res, const ApiError& error) { Fail(res, error); }

  ApiRoutesOptions options_;  // constant after construction
  std::unique_ptr<MemoryRequestRegistry> own_registry_;  // when the options bring none
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

void RegisterOpenAiRoutes(http::Router& server, ApiRoutesOptions options) {
  auto routes = std::make_shared<OpenAiRoutes>(std::move(options));
  server.Post("/v1/chat/completions", Guarded([routes](const httplib::Request& req, httplib::Response& res) {
                routes->Completion(ApiEndpoint::kChatCompletions, req, res);
              }));
  server.Post("/v1/completions", Guarded([routes](const httplib::Request& req, httplib::Response& res) {
                routes->Completion(ApiEndpoint::kCompletions, req, res);
              }));
  server.Post("/v1/messages", Guarded([routes](const httplib::Request& req, httplib::Response& res) {
                routes->Messages(req, res);
              }));
  server.Get(R"(/v1/models/(.+))",
             Guarded([routes](const httplib::Request& req, httplib::Response& res) { routes->Model(req, res); }));
}

}  // namespace hearth::daemon
