// Every request field /v1/chat/completions and /v1/completions know, and what becomes of it:
// parsed and honoured, accepted only at a value that changes nothing, or refused. A field not
// in the table is refused as OpenAI refuses it ("Unrecognized request argument"), so no
// setting a client sends is ever silently dropped. docs/api.md lists the same table.
#pragma once

#include <rapidjson/document.h>

#include <optional>

#include "daemon/openai/api_endpoint.h"
#include "daemon/openai/openai_error.h"

namespace hearth::daemon {

// A 400 naming the first field of `body` (a JSON object) that is unknown for `endpoint`, or
// known but set to something Hearth does not do; nothing when every field is acceptable.
// Values of the fields that work are checked by the parser, not here.
std::optional<ApiError> CheckRequestFields(ApiEndpoint endpoint, const rapidjson::Value& body);

}  // namespace hearth::daemon
