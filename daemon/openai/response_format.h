// Structured output on the OpenAI endpoints: response_format ({"type":"text"},
// {"type":"json_object"}, {"type":"json_schema","json_schema":{"name","schema","strict"}}) and
// Hearth's `grammar` field become one grammar text (sampling/grammar/gbnf_parser.h syntax),
// compiled here so a bad schema or grammar is a 400 before the request is accepted.
#pragma once

#include <rapidjson/document.h>

#include <optional>
#include <string>

#include "daemon/openai/openai_error.h"

namespace hearth::daemon {

// Sets *grammar to the grammar `body` (a JSON object) asks for, or leaves it empty when it
// asks for none. A 400 naming the field (response_format or grammar) for a malformed one, a
// schema keyword Hearth does not support, a grammar that does not compile, or both fields.
std::optional<ApiError> ParseResponseFormat(const rapidjson::Value& body, std::string* grammar);

}  // namespace hearth::daemon
