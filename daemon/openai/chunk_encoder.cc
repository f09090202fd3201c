#include "daemon/openai/chunk_encoder.h"

#include "daemon/requests/request_id_text.h"

#include <span>
#include <vector>

namespace hearth::daemon {
namespace {

class ChunkEncoder : public EventEncoder {
 public:
  explicit ChunkEncoder(ChunkEncoderOptions options) : options_(std::move(options)), tools_(options_.tool_format) {
    meta_.created = options_.created;
    meta_.model = options_.model;
  }

  void Begin(uint64_t request_id, std::vector<std::string>* out) override {
    meta_.id = (options_.chat ? "chatcmpl-" : "cmpl-") + RequestIdText(options_.id_scope, request_id);
    request_id_ = request_id;
    if (options_.chat) out->push_back(ChatRoleChunk(meta_, options_.choice_index));
  }

  void Token(const TokenEvent& event, std::vector<std::string>* out) override {
    if (reads_tools()) return ToolDeltas(event.text, Logprobs(std::span(&event.token, 1)), out);
    if (event.text.empty() && !options_.logprobs) return;
    out->push_back(Content(event.text, Logprobs(std::span(&event.token, 1))));
  }

  void Finish(const FinishEvent& finish, std::vector<std::string>* out) override {
    if (!IsCompleted(finish.finish_reason)) {
      out->push_back(ErrorBody(UnfinishedError(finish)));
      return;
    }
    // That text has no token of its own.
    if (reads_tools()) {
      ToolDeltas(finish.text, std::nullopt, out, /*last=*/true);
    } else if (!finish.text.empty()) {
      out->push_back(Content(finish.text, Logprobs({})));
    }
    const int32_t index = options_.choice_index;
    out->push_back(options_.chat ? ChatFinishChunk(meta_, finish.finish_reason, index, tools_.num_calls() > 0)
                                 : TextChunk(meta_, "", std::nullopt, text_offset_, finish.finish_reason, index));
    if (options_.include_usage) {
      out->push_back(UsageChunk(meta_, options_.chat, {finish.prompt_tokens, finish.completion_tokens, finish.cached_tokens}));
    }
  }

 private:
  LogprobTokens Logprobs(std::span<const GeneratedToken> tokens) const {
    return options_.logprobs ? LogprobTokens(tokens) : std::nullopt;
  }

  std::string Content(const std::string& text, LogprobTokens logprobs) {
    const int32_t index = options_.choice_index;
    std::string json = options_.chat ? ChatContentChunk(meta_, text, logprobs, index)
                                     : TextChunk(meta_, text, logprobs, text_offset_, std::nullopt, index);
    text_offset_ += text.size();
    return json;
  }

  bool reads_tools() const { return options_.chat && options_.tool_format != ToolCallFormat::kNone; }

  // The chunks of the deltas `text` completes (all of them when `last`); the token's logprobs
  // ride on the first, or on an empty delta when it completed none.
  void ToolDeltas(const std::string& text, LogprobTokens logprobs, std::vector<std::string>* out, bool last = false) {
    std::vector<ToolDelta> deltas;
    tools_.Feed(text, &deltas);
    if (last) tools_.Finish(&deltas);
    const int32_t index = options_.choice_index;
    for (const ToolDelta& d : deltas) {
      switch (d.kind) {
        case ToolDelta::Kind::kContent:
          out->push_back(ChatContentChunk(meta_, d.text, logprobs, index));
          break;
        case ToolDelta::Kind::kCallStart:
          out->push_back(ChatToolCallChunk(meta_, d.index, ToolCallId(request_id_, d.index), d.text, "", logprobs, index));
          break;
        case ToolDelta::Kind::kArguments:
          out->push_back(ChatToolCallChunk(meta_, d.index, "", "", d.text, logprobs, index));
          break;
      }
      logprobs = std::nullopt;
    }
    if (deltas.empty() && logprobs) out->push_back(ChatContentChunk(meta_, "", logprobs, index));
  }

  const ChunkEncoderOptions options_;
  ResponseMeta meta_;
  size_t text_offset_ = 0;
  uint64_t request_id_ = 0;
  ToolCallScanner tools_;
};

}  // namespace

std::unique_ptr<EventEncoder> MakeChunkEncoder(ChunkEncoderOptions options) {
  return std::make_unique<ChunkEncoder>(std::move(options));
}

ApiError UnfinishedError(const FinishEvent& finish) {
  if (!finish.status.ok()) return ErrorFromStatus(finish.status);
  // Only someone else cancels a request whose client still waits for it (a client that goes
  // away is not answered): an operator. 499, not a 5xx, so that SDKs do not run it again.
  return ApiError{499,
                  "the request was cancelled by an operator before it finished (DELETE /admin/v1/requests/{id}, "
                  "hearthctl requests cancel, or DELETE /v1/requests/{id}); it will not be retried",
                  "cancelled", "", "request_cancelled"};
}

}  // namespace hearth::daemon
