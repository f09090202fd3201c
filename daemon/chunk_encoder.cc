#include "daemon/chunk_encoder.h"

#include <vector>

#include "model/tokenizer.h"

namespace hearth::daemon {
namespace {

class ChunkEncoder : public EventEncoder {
 public:
  explicit ChunkEncoder(ChunkEncoderOptions options) : options_(std::move(options)) {
    meta_.created = options_.created;
    meta_.model = options_.model;
  }

  void Begin(uint64_t request_id, std::vector<std::string>* out) override {
    meta_.id = (options_.chat ? "chatcmpl-" : "cmpl-") + std::to_string(request_id);
    if (options_.chat) out->push_back(ChatRoleChunk(meta_, options_.choice_index));
  }

  void Token(const TokenEvent& event, std::vector<std::string>* out) override {
    if (event.text.empty() && !options_.logprobs) return;
    std::vector<LogprobEntry> entries;
    if (options_.logprobs && options_.tokenizer) entries.push_back(ToLogprobEntry(*options_.tokenizer, event));
    out->push_back(Content(event.text, options_.logprobs ? &entries : nullptr, ""));
  }

  void Finish(const FinishEvent& finish, std::vector<std::string>* out) override {
    if (finish.finish_reason == "error" || finish.finish_reason == "cancelled") {
      out->push_back(ErrorBody(UnfinishedError(finish)));
      return;
    }
    if (!finish.text.empty()) {
      static const std::vector<LogprobEntry> kNoTokens;  // that text has no token of its own
      out->push_back(Content(finish.text, options_.logprobs ? &kNoTokens : nullptr, ""));
    }
    const int32_t index = options_.choice_index;
    out->push_back(options_.chat ? ChatFinishChunk(meta_, finish.finish_reason, index)
                                 : TextChunk(meta_, "", nullptr, text_offset_, finish.finish_reason, index));
    if (options_.include_usage) {
      out->push_back(UsageChunk(meta_, options_.chat, {finish.prompt_tokens, finish.completion_tokens}));
    }
  }

 private:
  std::string Content(const std::string& text, const std::vector<LogprobEntry>* logprobs,
                      std::string_view finish_reason) {
    const int32_t index = options_.choice_index;
    std::string json = options_.chat ? ChatContentChunk(meta_, text, logprobs, index)
                                     : TextChunk(meta_, text, logprobs, text_offset_, finish_reason, index);
    text_offset_ += text.size();
    return json;
  }

  const ChunkEncoderOptions options_;
  ResponseMeta meta_;
  size_t text_offset_ = 0;
};

std::string TokenBytes(const model::Tokenizer& tokenizer, int32_t id) {
  std::string out;
  bool at_start = false;
  if (!tokenizer.AppendPiece(id, {.render_special = true}, &at_start, &out).ok()) return "";
  return out;
}

}  // namespace

std::unique_ptr<EventEncoder> MakeChunkEncoder(ChunkEncoderOptions options) {
  return std::make_unique<ChunkEncoder>(std::move(options));
}

ApiError UnfinishedError(const FinishEvent& finish) {
  if (!finish.status.ok()) return ErrorFromStatus(finish.status);
  return ApiError{503, "the request was cancelled before it finished", "server_error", "", ""};
}

LogprobEntry ToLogprobEntry(const model::Tokenizer& tokenizer, const TokenEvent& event) {
  return LogprobEntry{TokenBytes(tokenizer, event.token), event.logprob, event.top};
}

}  // namespace hearth::daemon
