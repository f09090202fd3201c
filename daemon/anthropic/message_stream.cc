#include "daemon/anthropic/message_stream.h"

#include "daemon/anthropic/messages_response.h"
#include "daemon/openai/chunk_encoder.h"
#include "daemon/requests/request_id_text.h"

namespace hearth::daemon {
namespace {

class MessageEncoder : public EventEncoder {
 public:
  explicit MessageEncoder(MessageStreamOptions options) : options_(std::move(options)) {}

  void Begin(uint64_t request_id, std::vector<std::string>* out) override {
    MessageOutput start;
    start.id = MessageId(options_.id_scope, request_id);
    start.model = options_.model;
    start.input_tokens = options_.input_tokens;
    out->push_back(MessageStartEvent(start));
    out->push_back(ContentBlockStartEvent());
    out->push_back(PingEvent());
  }

  void Token(const TokenEvent& event, std::vector<std::string>* out) override {
    raw_.append(event.token.bytes);
    if (!event.text.empty()) out->push_back(TextDeltaEvent(event.text));
  }

  void Finish(const FinishEvent& finish, std::vector<std::string>* out) override {
    if (!IsCompleted(finish.finish_reason)) {
      out->push_back(ErrorEvent(UnfinishedError(finish)));
      return;
    }
    if (!finish.text.empty()) out->push_back(TextDeltaEvent(finish.text));
    out->push_back(ContentBlockStopEvent());
    std::optional<std::string> stop;
    if (finish.finish_reason == FinishReason::kStop) stop = MatchedStopSequence(raw_, options_.stop_sequences);
    out->push_back(MessageDeltaEvent(finish.finish_reason, stop, finish.completion_tokens));
    out->push_back(MessageStopEvent());
  }

 private:
  const MessageStreamOptions options_;
  std::string raw_;  // every token's bytes, stop sequences included
};

}  // namespace

std::unique_ptr<EventEncoder> MakeMessageEncoder(MessageStreamOptions options) {
  return std::make_unique<MessageEncoder>(std::move(options));
}

MessageOutput MessageOf(const RequestInfo& info, const std::string& id_scope, const model::Tokenizer& tokenizer,
                        const std::vector<std::string>& stop_sequences) {
  MessageOutput out;
  out.id = MessageId(id_scope, info.id);
  out.model = info.meta.model;
  out.text = info.text;
  out.finish_reason = info.finish_reason.value_or(FinishReason::kStop);
  out.input_tokens = info.meta.prompt_tokens;
  out.output_tokens = info.completion_tokens;
  if (out.finish_reason == FinishReason::kStop && !stop_sequences.empty()) {
    std::string raw;
    for (int32_t id : info.tokens) raw.append(tokenizer.TokenBytes(id));
    out.stop_sequence = MatchedStopSequence(raw, stop_sequences);
  }
  return out;
}

std::string MessageId(const std::string& id_scope, uint64_t request_id) {
  return "msg_" + RequestIdText(id_scope, request_id);
}

}  // namespace hearth::daemon
