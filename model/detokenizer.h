// Streaming detokenizer: turns generated ids into text one id at a time and never returns half
// a UTF-8 character, so each returned chunk can be sent to a client as it is.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "model/tokenizer.h"

namespace hearth::model {

class StreamingDetokenizer {
 public:
  // `tokenizer` must outlive this object.
  explicit StreamingDetokenizer(const Tokenizer& tokenizer, DecodeOptions options = {})
      : tokenizer_(tokenizer), options_(options) {}

  // Adds one token and returns the text that became complete: valid UTF-8, possibly empty.
  // Bytes that cannot start or continue a character are replaced by U+FFFD right away; an
  // unfinished character at the end is held back. InvalidArgument for an id out of range.
  StatusOr<std::string> Push(int32_t id);

  // Ends the stream: returns what is held back, each byte of it replaced by U+FFFD (a
  // character cut off by the end can never complete).
  std::string Flush();

  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer& tokenizer_;
  const DecodeOptions options_;
  std::string pending_;  // bytes of an incomplete character (at most 3)
  bool at_start_ = true;
};

}  // namespace hearth::model
