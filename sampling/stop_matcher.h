// Stop conditions for one request: stop strings matched on the streamed text, which may split
// a stop string across any number of pieces, and stop token ids (EOS, EOT, ...).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hearth {

// Bounds of a request's stop strings. OpenAI's limit of 4 does not bind self-hosted servers
// (vLLM and llama-server set none); these keep the per-token matching cost, which grows with
// strings x bytes, and the text held back (under one string's length) small.
inline constexpr size_t kMaxStopStrings = 64;
inline constexpr size_t kMaxStopStringBytes = 256;

struct StopMatcherOutput {
  std::string text;      // safe to send to the client now
  bool stopped = false;  // a stop string matched; `text` ends just before it
};

class StopMatcher {
 public:
  // InvalidArgument for an empty stop string (it would match before any output), and for more
  // or longer strings than the bounds above.
  static StatusOr<StopMatcher> Create(std::vector<std::string> stop_strings, std::vector<int32_t> stop_token_ids);

  // Appends one decoded piece. Holds back the longest tail that could still grow into a stop
  // string, and a trailing incomplete UTF-8 sequence (so a client never gets half a
  // character); returns everything before that. When a stop string matches (the earliest
  // one, if several), the text from its start on is dropped and every later call returns
  // nothing.
  StopMatcherOutput Feed(std::string_view piece);

  // Generation ended another way (stop token, length): releases whatever is held back.
  std::string Finish();

  // True for the request's stop token ids. The caller checks this before decoding the token,
  // then calls Finish(); the stop token's own text is never fed.
  bool IsStopToken(int32_t token) const;

  bool stopped() const { return stopped_; }

 private:
  StopMatcher(std::vector<std::string> stop_strings, std::vector<int32_t> stop_token_ids);

  size_t EarliestMatch() const;
  size_t HeldTailLength() const;

  // Constant after construction.
  std::vector<std::string> stop_strings_;
  std::vector<int32_t> stop_token_ids_;  // sorted

  std::string held_;  // text received but not yet returned; never contains a whole stop string
  bool stopped_ = false;
};

}  // namespace hearth
