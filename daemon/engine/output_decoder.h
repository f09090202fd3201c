// One request's output as events: detokenizes its generated tokens one at a time and matches its
// stop strings, deciding what text each token releases. The engine loop runs every live token
// through it, and recovery (Replay) runs committed tokens through a fresh one, so a request
// rebuilt from its stored tokens produces the same events as it did the first time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "daemon/engine/engine.h"
#include "model/detokenizer.h"
#include "model/tokenizer.h"
#include "sampling/stop_matcher.h"

namespace hearth::daemon {

class OutputDecoder {
 public:
  // `tokenizer` must outlive the decoder. InvalidArgument for a bad stop string.
  static StatusOr<OutputDecoder> Create(const model::Tokenizer& tokenizer, std::vector<std::string> stop,
                                        std::vector<int32_t> stop_token_ids, int32_t max_tokens);

  // A stop token (EOS, ...) ends the request without text of its own and is never fed.
  bool IsStopToken(int32_t token) const { return stops_.IsStopToken(token); }

  // One generated token that is not a stop token: its event, with the text it releases.
  // `*stopped` when a stop string matched; the token that reaches max_tokens also releases
  // whatever was held back.
  TokenEvent Token(GeneratedToken token, bool* stopped);

  // Tokens generated before (recovery's committed tokens, an ended request's stored ones) run
  // through the decoder exactly as the engine ran them live: `emit` gets each one's event, in
  // order, up to the token that ended the request. Returns how they ended it (a stop token or a
  // stop string: kStop; max_tokens: kLength), or nullopt when generation goes on after them.
  std::optional<FinishReason> Replay(std::span<const GeneratedToken> tokens,
                                     const std::function<void(TokenEvent)>& emit);

  // The request ended by a stop token or by length: what is still held back (empty after a
  // stop string matched).
  std::string FinishText();

  bool stopped() const { return stops_.stopped(); }
  // Tokens fed through Token() (stop tokens excluded).
  int32_t num_generated() const { return num_generated_; }

 private:
  OutputDecoder(const model::Tokenizer& tokenizer, StopMatcher stops, int32_t max_tokens)
      : detok_(tokenizer), stops_(std::move(stops)), max_tokens_(max_tokens) {}

  model::StreamingDetokenizer detok_;
  StopMatcher stops_;
  int32_t max_tokens_ = 0;
  int32_t num_generated_ = 0;
};

}  // namespace hearth::daemon
