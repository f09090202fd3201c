// UTF-8 encoding of one code point, for every module that writes text (the tokenizer, the
// template interpreter, the grammar compiler). Header only, so that any library can use it.
#pragma once

#include <cstdint>

namespace hearth {

// Appends the 1-4 byte UTF-8 form of `cp` (at most 0x10FFFF; callers that may hold a surrogate
// or a larger value decide what to write instead) to `out`, a container of char or uint8_t.
template <class Bytes>
void EncodeUtf8(uint32_t cp, Bytes* out) {
  using Byte = typename Bytes::value_type;
  if (cp < 0x80) {
    out->push_back(static_cast<Byte>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<Byte>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<Byte>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<Byte>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<Byte>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<Byte>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<Byte>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<Byte>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<Byte>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<Byte>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace hearth
