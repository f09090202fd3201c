// JSON Schema -> grammar text (gbnf_parser.h syntax), for response_format json_schema, and the
// fixed grammar of response_format json_object. Between tokens the output has nothing, one
// space, or a newline and up to 16 spaces or tabs of indentation (no blank lines); properties
// come in the order the schema lists them, and numbers have a bounded length, so a weak model
// cannot wander off in whitespace or digits.
//
// Supported: type (one or a list) object/array/string/number/integer/boolean/null,
// properties, required, additionalProperties (false, true or a schema; absent means false),
// items, minItems, maxItems, minLength, maxLength, enum, const, anyOf, oneOf (as anyOf),
// $ref to #/$defs/... or #/definitions/... (recursion included), and the annotations title,
// description, default, examples, $schema, $id, $comment, deprecated, readOnly, writeOnly.
// Any other keyword is refused with an error naming it and where it is.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "sampling/grammar/grammar_limits.h"

namespace hearth::grammar {

// InvalidArgument naming the keyword and its location (as a JSON pointer) for what is not
// supported or malformed, or for a schema over `limits`.
StatusOr<std::string> JsonSchemaToGbnf(std::string_view schema_json, const GrammarLimits& limits = {});

// Any JSON object.
std::string JsonObjectGbnf();

}  // namespace hearth::grammar
