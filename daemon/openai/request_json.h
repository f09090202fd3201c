// What every request parser of the HTTP APIs (OpenAI, Anthropic, tokenize, embeddings, tools)
// needs of a parsed JSON body: a 400 naming the bad parameter, a string's bytes, and a member
// that is present and not null.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <utility>

#include "daemon/openai/openai_error.h"

namespace hearth::daemon {

// 400 invalid_request_error for `param`, with an error code when one is given.
inline ApiError BadParam(std::string param, std::string message, std::string code = "") {
  return ApiError{400, std::move(message), "invalid_request_error", std::move(param), std::move(code)};
}

// A JSON string's bytes (which may hold NULs).
inline std::string JsonStr(const rapidjson::Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

// The member `name` of `obj`, or null when it is absent or JSON null.
inline const rapidjson::Value* JsonField(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

}  // namespace hearth::daemon
