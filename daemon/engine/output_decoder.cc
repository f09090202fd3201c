#include "daemon/engine/output_decoder.h"

namespace hearth::daemon {

StatusOr<OutputDecoder> OutputDecoder::Create(const model::Tokenizer& tokenizer, std::vector<std::string> stop,
                                              std::vector<int32_t> stop_token_ids, int32_t max_tokens) {
  HEARTH_ASSIGN_OR_RETURN(StopMatcher stops, StopMatcher::Create(std::move(stop), std::move(stop_token_ids)));
  return OutputDecoder(tokenizer, std::move(stops), max_tokens);
}

TokenEvent OutputDecoder::Token(GeneratedToken token, bool* stopped) {
  ++num_generated_;
  StatusOr<std::string> piece = detok_.Push(token.id);
  StopMatcherOutput out = stops_.Feed(piece.ok() ? *piece : std::string());
  TokenEvent event{std::move(token), std::move(out.text)};
  *stopped = out.stopped;
  if (!*stopped && num_generated_ >= max_tokens_) {
    // The last token: release what was held back with it.
    StopMatcherOutput tail = stops_.Feed(detok_.Flush());
    event.text += tail.text;
    *stopped = tail.stopped;
    if (!*stopped) event.text += stops_.Finish();
  }
  return event;
}

std::optional<FinishReason> OutputDecoder::Replay(std::span<const GeneratedToken> tokens,
                                                  const std::function<void(TokenEvent)>& emit) {
  for (const GeneratedToken& t : tokens) {
    if (IsStopToken(t.id)) return FinishReason::kStop;
    bool stopped = false;
    emit(Token(t, &stopped));
    if (stopped) return FinishReason::kStop;
  }
  if (num_generated_ >= max_tokens_) return FinishReason::kLength;
  return std::nullopt;
}

std::string OutputDecoder::FinishText() {
  if (stops_.stopped()) return "";
  StopMatcherOutput tail = stops_.Feed(detok_.Flush());
  std::string text = std::move(tail.text);
  if (!tail.stopped) text += stops_.Finish();
  return text;
}

}  // namespace hearth::daemon
