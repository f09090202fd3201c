// The embeddings route; see embeddings_routes.h. The handler validates and tokenizes on the
// HTTP thread, submits every input (all admitted or none), and waits for their vectors,
// cancelling them all when its client goes away or one of them fails. Nothing is stored: an
// embedding generates no token to commit, and after a worker restart the engine runs it again.
#include "daemon/api/embeddings_routes.h"

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/log.h"
#include "daemon/engine/engine.h"
#include "daemon/http/router.h"
#include "daemon/openai/chunk_encoder.h"
#include "daemon/openai/embeddings_request.h"
#include "daemon/openai/openai_error.h"
#include "daemon/openai/openai_request.h"
#include "daemon/openai/tokenize_request.h"
#include "daemon/api/finish_waiter.h"
#include "daemon/openai/request_json.h"
#include "model/tokenizer.h"

namespace hearth::daemon {
namespace {

// How often a waiting handler looks whether its client is still there.
constexpr std::chrono::milliseconds kClientCheckInterval{100};

// The inputs as token ids, each checked against the vocabulary and the context.
std::optional<ApiError> InputTokens(const EmbeddingsRequest& request, const model::Tokenizer& tokenizer,
                                    int32_t context, std::vector<std::vector<int32_t>>* out) {
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    const EmbeddingInput& in = request.inputs[i];
    const std::string where = request.inputs.size() == 1 ? "input" : "input[" + std::to_string(i) + "]";
    std::vector<int32_t> ids =
        in.is_tokens ? in.tokens : tokenizer.Encode(in.text, /*add_special=*/true, /*parse_special=*/false);
    if (ids.empty()) return BadParam("input", where + " has no tokens");
    for (int32_t t : ids) {
      if (t >= tokenizer.vocab_size()) {
        return BadParam("input", where + ": token id " + std::to_string(t) + " is outside the vocabulary (size " +
                                std::to_string(tokenizer.vocab_size()) + ")");
      }
    }
    if (auto e = CheckTokenCount(ids.size(), context, "input")) {
      e->message = where + ": " + e->message;
      return e;
    }
    out->push_back(std::move(ids));
  }
  return std::nullopt;
}

std::optional<ApiError> CheckDimensions(const EmbeddingsRequest& request, int32_t width) {
  if (!request.dimensions || width <= 0 || *request.dimensions == width) return std::nullopt;
  return BadParam("dimensions", "dimensions must be " + std::to_string(width) + ", the model's embedding size: Hearth " +
                               "does not shorten embeddings (the model was not trained for it)");
}

void Embeddings(Engine* engine, const httplib::Request& req, httplib::Response& res) {
  EmbeddingsRequest request;
  if (auto e = ParseEmbeddingsRequest(req.body, &request)) return SetError(res, *e);
  if (!engine) return SetError(res, {503, "the engine is not running", "server_error", "", ""});
  const model::Tokenizer* tokenizer = engine->tokenizer(request.model);
  if (!tokenizer) return SetError(res, ModelNotFound(request.model));
  if (auto e = CheckDimensions(request, engine->embedding_size(request.model))) return SetError(res, *e);
  std::vector<std::vector<int32_t>> inputs;
  if (auto e = InputTokens(request, *tokenizer, engine->context_length(request.model), &inputs)) {
    return SetError(res, *e);
  }

  // Every input is an engine request of its own; admitted all or none.
  std::vector<uint64_t> ids;
  std::vector<std::shared_ptr<FinishWaiter>> waiters;
  int64_t prompt_tokens = 0;
  auto cancel_all = [&] {
    for (uint64_t id : ids) engine->Cancel(id);
  };
  for (std::vector<int32_t>& prompt : inputs) {
    prompt_tokens += static_cast<int64_t>(prompt.size());
    GenerationRequest gen;
    gen.model = request.model;
    gen.prompt = std::move(prompt);
    gen.pooling = request.pooling;
    gen.durable = false;
    auto waiter = std::make_shared<FinishWaiter>();
    StatusOr<uint64_t> id = engine->Submit(std::move(gen), waiter);
    if (!id.ok()) {
      cancel_all();
      return SetError(res, id.status().code() == Status::Code::kNotFound ? ModelNotFound(request.model)
                                                                         : ErrorFromStatus(id.status()));
    }
    ids.push_back(*id);
    waiters.push_back(std::move(waiter));
  }
  LogInfo("embeddings submitted").Kv("model", request.model).Kv("inputs", ids.size()).Kv("first_id", ids.front());

  std::vector<std::vector<float>> vectors;
  for (const std::shared_ptr<FinishWaiter>& w : waiters) {
    while (!w->WaitFor(kClientCheckInterval)) {
      if (http::ClientConnected(req)) continue;
      LogInfo("client went away; cancelling its embeddings").Kv("first_id", ids.front());
      return cancel_all();
    }
    FinishEvent finish = w->Wait();
    if (finish.finish_reason != FinishReason::kStop || !finish.status.ok() || finish.embedding.empty()) {
      cancel_all();
      if (finish.finish_reason == FinishReason::kStop && finish.status.ok()) {
        finish.status = Status::Internal("the engine returned no embedding");
      }
      return SetError(res, UnfinishedError(finish));
    }
    vectors.push_back(std::move(finish.embedding));
  }
  if (auto e = CheckDimensions(request, static_cast<int32_t>(vectors.front().size()))) return SetError(res, *e);
  res.set_content(EmbeddingsResponseJson(request.model, vectors, request.base64, prompt_tokens), "application/json");
}

}  // namespace

void RegisterEmbeddingsRoutes(http::Router& server, std::function<Engine*()> engine) {
  server.Post("/v1/embeddings", [engine = std::move(engine)](const httplib::Request& req, httplib::Response& res) {
    try {
      Embeddings(engine ? engine() : nullptr, req, res);
    } catch (const std::exception& e) {
      LogError("embeddings handler threw").Kv("what", e.what());
      SetError(res, {500, "internal error", "server_error", "", ""});
    }
  });
}

}  // namespace hearth::daemon
