#include "common/json_parse.h"

#include <rapidjson/error/en.h>

#include <string>

namespace hearth {
namespace {

bool Hex4(std::string_view text, size_t at, unsigned* out) {
  if (at + 4 > text.size()) return false;
  unsigned v = 0;
  for (size_t i = at; i < at + 4; ++i) {
    const char c = text[i];
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v |= static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      v |= static_cast<unsigned>(c - 'A' + 10);
    } else {
      return false;
    }
  }
  *out = v;
  return true;
}

bool IsHigh(unsigned cp) { return cp >= 0xD800 && cp <= 0xDBFF; }
bool IsLow(unsigned cp) { return cp >= 0xDC00 && cp <= 0xDFFF; }

// One pass over the bytes before the parser sees them: the nesting depth outside strings, and
// \u escapes inside them. RapidJSON checks a high surrogate's partner but turns a lone low
// surrogate into bytes that are not UTF-8. Malformed escapes are left for the parser to name.
JsonParse Scan(std::string_view text, const JsonLimits& limits) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!in_string) {
      if (c == '"') {
        in_string = true;
      } else if (c == '[' || c == '{') {
        if (++depth > limits.max_depth) {
          return {JsonError::kTooDeep, "nested deeper than " + std::to_string(limits.max_depth) + " levels (at byte " +
                                           std::to_string(i) + ")"};
        }
      } else if ((c == ']' || c == '}') && depth > 0) {
        --depth;
      }
      continue;
    }
    if (c == '"') {
      in_string = false;
    } else if (c == '\\' && i + 1 < text.size()) {
      unsigned cp = 0;
      if (text[i + 1] != 'u' || !Hex4(text, i + 2, &cp)) {
        ++i;  // skip the escaped character
        continue;
      }
      const std::string where = " (at byte " + std::to_string(i) + ")";
      if (IsLow(cp)) return {JsonError::kEncoding, "not valid UTF-8: a \\u escape names a lone low surrogate" + where};
      if (IsHigh(cp)) {
        unsigned low = 0;
        if (i + 7 >= text.size() || text[i + 6] != '\\' || text[i + 7] != 'u' || !Hex4(text, i + 8, &low) ||
            !IsLow(low)) {
          return {JsonError::kEncoding,
                  "not valid UTF-8: a \\u escape names a high surrogate with no low surrogate after it" + where};
        }
        i += 11;
        continue;
      }
      i += 5;
    }
  }
  return {};
}

}  // namespace

JsonParse ParseJson(std::string_view text, rapidjson::Document* doc, JsonLimits limits) {
  JsonParse scanned = Scan(text, limits);
  if (!scanned.ok()) {
    doc->SetNull();
    return scanned;
  }
  doc->Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
  if (!doc->HasParseError()) return {};
  const rapidjson::ParseErrorCode code = doc->GetParseError();
  const std::string where = " (at byte " + std::to_string(doc->GetErrorOffset()) + ")";
  doc->SetNull();
  if (code == rapidjson::kParseErrorStringInvalidEncoding ||
      code == rapidjson::kParseErrorStringUnicodeSurrogateInvalid) {
    return {JsonError::kEncoding, std::string("not valid UTF-8: ") + rapidjson::GetParseError_En(code) + where};
  }
  return {JsonError::kSyntax, std::string("not valid JSON: ") + rapidjson::GetParseError_En(code) + where};
}

Status ParseJsonObject(std::string_view text, rapidjson::Document* doc, JsonLimits limits) {
  JsonParse parsed = ParseJson(text, doc, limits);
  if (!parsed.ok()) return Status::InvalidArgument(parsed.message);
  if (!doc->IsObject()) return Status::InvalidArgument("not a JSON object");
  return Status::Ok();
}

}  // namespace hearth
