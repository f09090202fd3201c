// The one way hearthd reads a JSON text it did not write itself (request bodies, admin and
// preemption-notice bodies, stored parameters): iterative parsing (a million '[' must not
// recurse a million frames deep), a nesting limit, UTF-8 validated, and escapes that name a
// lone surrogate (which no UTF-8 text can hold) refused.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <string_view>

#include "common/status.h"

namespace hearth {

struct JsonLimits {
  size_t max_depth = 64;  // arrays and objects open at once
};

// Why a text was refused, for callers that word their own errors.
enum class JsonError { kNone, kSyntax, kEncoding, kTooDeep };

struct JsonParse {
  JsonError error = JsonError::kNone;
  std::string message;  // empty when error is kNone
  bool ok() const { return error == JsonError::kNone; }
};

// Parses `text` into `doc`. On a refusal `doc` holds no partial value worth reading.
JsonParse ParseJson(std::string_view text, rapidjson::Document* doc, JsonLimits limits = {});

// As ParseJson, and the value must be an object. InvalidArgument names what is wrong, worded
// to follow "the body is ".
Status ParseJsonObject(std::string_view text, rapidjson::Document* doc, JsonLimits limits = {});

}  // namespace hearth
