// The tokenizer routes; see tokenize_routes.h. They run on the HTTP thread and touch only the
// tokenizer (constant once the model is loaded), never the engine loop.
#include "daemon/api/tokenize_routes.h"

#include <httplib.h>

#include <exception>
#include <string>
#include <vector>

#include "common/log.h"
#include "daemon/api/prompt_tokens.h"
#include "daemon/engine/engine.h"
#include "daemon/http/router.h"
#include "daemon/openai/openai_error.h"
#include "daemon/openai/tokenize_request.h"
#include "model/detokenizer.h"
#include "model/tokenizer.h"

namespace hearth::daemon {
namespace {

// The model's tokenizer, or the error to send.
std::optional<ApiError> FindTokenizer(Engine* engine, const std::string& model, const model::Tokenizer** out) {
  if (!engine) return ApiError{503, "the engine is not running", "server_error", "", ""};
  *out = engine->tokenizer(model);
  if (!*out) return ModelNotFound(model);
  return std::nullopt;
}

std::optional<ApiError> Tokenize(Engine* engine, const std::string& body, std::string* answer) {
  TokenizeRequest request;
  if (auto e = ParseTokenizeRequest(body, &request)) return e;
  const model::Tokenizer* tokenizer = nullptr;
  if (auto e = FindTokenizer(engine, request.prompt.model, &tokenizer)) return e;
  std::vector<int32_t> ids;
  if (request.prompt.endpoint == ApiEndpoint::kCompletions && !request.add_special_tokens) {
    ids = tokenizer->Encode(request.prompt.prompt_text, /*add_special=*/false, /*parse_special=*/false);
  } else if (auto e = PromptTokens(request.prompt, *tokenizer, &ids)) {
    return e;
  }
  const int32_t max_model_len = engine->context_length(request.prompt.model);
  const bool chat = request.prompt.endpoint == ApiEndpoint::kChatCompletions;
  if (auto e = CheckTokenCount(ids.size(), max_model_len, chat ? "messages" : "prompt")) return e;
  *answer = TokenizeResponseJson(ids, max_model_len);
  return std::nullopt;
}

std::optional<ApiError> Detokenize(Engine* engine, const std::string& body, std::string* answer) {
  DetokenizeRequest request;
  if (auto e = ParseDetokenizeRequest(body, &request)) return e;
  const model::Tokenizer* tokenizer = nullptr;
  if (auto e = FindTokenizer(engine, request.model, &tokenizer)) return e;
  if (auto e = CheckTokenCount(request.tokens.size(), engine->context_length(request.model), "tokens")) return e;
  // The streaming detokenizer keeps the text valid UTF-8, as generation's is.
  model::StreamingDetokenizer detok(*tokenizer);
  std::string text;
  for (int32_t id : request.tokens) {
    if (id >= tokenizer->vocab_size()) {
      return ApiError{400,
                      "token id " + std::to_string(id) + " is outside the vocabulary (size " +
                          std::to_string(tokenizer->vocab_size()) + ")",
                      "invalid_request_error", "tokens", ""};
    }
    StatusOr<std::string> piece = detok.Push(id);
    if (!piece.ok()) return ApiError{400, piece.status().message(), "invalid_request_error", "tokens", ""};
    text += *piece;
  }
  text += detok.Flush();
  *answer = DetokenizeResponseJson(text);
  return std::nullopt;
}

// Runs `fn`; its error, or anything it throws, becomes the OpenAI error body.
template <typename Fn>
httplib::Server::Handler Handler(std::function<Engine*()> engine, Fn fn) {
  return [engine = std::move(engine), fn](const httplib::Request& req, httplib::Response& res) {
    try {
      std::string answer;
      if (auto e = fn(engine ? engine() : nullptr, req.body, &answer)) return SetError(res, *e);
      res.set_content(answer, "application/json");
    } catch (const std::exception& e) {
      LogError("tokenize handler threw").Kv("path", req.path).Kv("what", e.what());
      SetError(res, {500, "internal error", "server_error", "", ""});
    }
  };
}

}  // namespace

void RegisterTokenizeRoutes(http::Router& server, std::function<Engine*()> engine) {
  server.Post("/tokenize", Handler(engine, Tokenize));
  server.Post("/detokenize", Handler(engine, Detokenize));
}

}  // namespace hearth::daemon
