// Tool calling's request fields on /v1/chat/completions: `tools`, `tool_choice` and
// `parallel_tool_calls`, checked, and for a forced choice (`required` or a named function) the
// grammar that makes the answer a call of Hearth's JSON-array wire format whose arguments follow
// the function's JSON schema (docs/api.md, "Tool calling").
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/openai/openai_error.h"
#include "model/chat_template.h"

namespace hearth::daemon {

// Most tools one request may offer, and most calls one forced answer may hold.
inline constexpr size_t kMaxTools = 128;
inline constexpr int32_t kMaxParallelToolCalls = 8;

enum class ToolChoice : uint8_t { kNone, kAuto, kRequired, kNamed };

struct ToolRequest {
  // The tools as given, a JSON array of {"type":"function","function":{name, description?,
  // parameters?}}; empty when the request offers none.
  std::string tools_json;
  std::vector<std::string> names;         // the functions' names, in order
  ToolChoice choice = ToolChoice::kNone;  // default: auto with tools, none without
  std::string forced_name;                // kNamed: the function
  bool parallel = true;                   // parallel_tool_calls
  // kRequired and kNamed: the grammar of the answer (gbnf_parser.h syntax); else empty.
  std::string grammar;

  bool has_tools() const { return !tools_json.empty(); }
  bool forced() const { return choice == ToolChoice::kRequired || choice == ToolChoice::kNamed; }
};

// Reads the three fields of `body` (a JSON object). A 400 naming the field (e.g.
// "tools[1].function.parameters", "tool_choice") for a malformed tool, a duplicate or invalid
// name, parameters that are not an object schema or that the schema compiler refuses, a
// tool_choice naming no tool, or a forced choice without tools.
std::optional<ApiError> ParseToolRequest(const rapidjson::Value& body, ToolRequest* out);

// The constrained grammar for `tools` (a checked tools array): an array of one call (up to
// kMaxParallelToolCalls when `parallel`) of the tools named in `allowed` (all when empty).
// Exposed for tests; ParseToolRequest fills ToolRequest::grammar with it.
std::optional<ApiError> ToolCallGrammar(const rapidjson::Value& tools, const std::vector<std::string>& allowed,
                                        bool parallel, std::string* grammar);

// The tool parts of chat message `m` (a JSON object) named `at` ("messages[3]"): an assistant's
// `tool_calls` (OpenAI's [{id, type: "function", function: {name, arguments}}], kept with each
// `arguments` string parsed to an object where it is JSON, as templates expect), a tool
// result's `tool_call_id` (required for role "tool") and `name`. A 400 naming the field.
std::optional<ApiError> ParseMessageToolFields(const rapidjson::Value& m, const std::string& at,
                                               model::ChatMessage* out);

}  // namespace hearth::daemon
