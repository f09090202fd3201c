// Writing JSON text: one writer type and the string helpers every writer of JSON shares.
// Strings go in by length, so text is never re-measured and an embedded NUL survives.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

namespace hearth {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

inline void WriteString(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// `s` as a JSON string literal, quotes and escapes included.
inline std::string JsonQuote(std::string_view s) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  WriteString(w, s);
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace hearth
