#include "daemon/output_decoder.h"

namespace hearth::daemon {

StatusOr<OutputDecoder> OutputDecoder::Create(const model::Tokenizer& tokenizer, std::vector<std::string> stop,
                                              std::vector<int32_t> stop_token_ids, int32_t max_tokens) {
  HEARTH_ASSIGN_OR_RETURN(StopMatcher stops, StopMatcher::Create(std::move(stop), std::move(stop_token_ids)));
  return OutputDecoder(tokenizer, std::move(stops), max_tokens);
}

std::string OutputDecoder::Token(int32_t token, bool* stopped) {
  ++num_generated_;
  StatusOr<std::string> piece = detok_.Push(token);
  StopMatcherOutput out = stops_.Feed(piece.ok() ? *piece : std::string());
  std::string text = std::move(out.text);
  *stopped = out.stopped;
  if (!*stopped && num_generated_ >= max_tokens_) {
    // The last token: release what was held back with it.
    StopMatcherOutput tail = stops_.Feed(detok_.Flush());
    text += tail.text;
    *stopped = tail.stopped;
    if (!*stopped) text += stops_.Finish();
  }
  return text;
}

std::string OutputDecoder::FinishText() {
  if (stops_.stopped()) return "";
  StopMatcherOutput tail = stops_.Feed(detok_.Flush());
  std::string text = std::move(tail.text);
  if (!tail.stopped) text += stops_.Finish();
  return text;
}

}  // namespace hearth::daemon
