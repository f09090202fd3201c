#include "daemon/openai/response_format.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "sampling/grammar/gbnf_parser.h"
#include "sampling/grammar/json_schema_grammar.h"
#include "sampling/sampling_params.h"
#include "daemon/openai/request_json.h"

namespace hearth::daemon {
namespace {

// The grammar text for a response_format object, "" for {"type":"text"}.
std::optional<ApiError> FromResponseFormat(const rapidjson::Value& rf, std::string* grammar) {
  if (!rf.IsObject() || !rf.HasMember("type") || !rf["type"].IsString()) {
    return BadParam("response_format", "response_format must be an object with a string 'type'");
  }
  const std::string type(rf["type"].GetString(), rf["type"].GetStringLength());
  if (type == "text") return std::nullopt;
  if (type == "json_object") {
    *grammar = grammar::JsonObjectGbnf();
    return std::nullopt;
  }
  if (type != "json_schema") {
    return BadParam("response_format",
               "response_format type '" + type + "' is not supported (text, json_object or json_schema)");
  }
  if (!rf.HasMember("json_schema") || !rf["json_schema"].IsObject()) {
    return BadParam("response_format", "response_format json_schema needs a 'json_schema' object");
  }
  const rapidjson::Value& js = rf["json_schema"];
  if (!js.HasMember("name") || !js["name"].IsString()) {
    return BadParam("response_format", "response_format.json_schema.name must be a string");
  }
  if (js.HasMember("strict") && !js["strict"].IsBool() && !js["strict"].IsNull()) {
    return BadParam("response_format", "response_format.json_schema.strict must be a boolean");
  }
  if (!js.HasMember("schema")) {
    *grammar = grammar::JsonObjectGbnf();  // OpenAI: no schema means any JSON object
    return std::nullopt;
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  js["schema"].Accept(w);
  auto text = grammar::JsonSchemaToGbnf(std::string_view(buf.GetString(), buf.GetSize()));
  if (!text.ok()) return BadParam("response_format", "response_format: " + text.status().message());
  *grammar = std::move(*text);
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> ParseResponseFormat(const rapidjson::Value& body, std::string* grammar) {
  grammar->clear();
  const char* param = nullptr;
  if (body.HasMember("response_format") && !body["response_format"].IsNull()) {
    param = "response_format";
    if (auto e = FromResponseFormat(body["response_format"], grammar)) return e;
  }
  if (body.HasMember("grammar") && !body["grammar"].IsNull()) {
    if (!grammar->empty()) return BadParam("grammar", "give either grammar or a JSON response_format, not both");
    const rapidjson::Value& g = body["grammar"];
    if (!g.IsString()) return BadParam("grammar", "grammar must be a string");
    if (g.GetStringLength() > kMaxGrammarBytes) {
      return BadParam("grammar", "grammar may hold at most " + std::to_string(kMaxGrammarBytes) + " bytes");
    }
    param = "grammar";
    grammar->assign(g.GetString(), g.GetStringLength());
  }
  if (grammar->empty()) return std::nullopt;
  if (grammar->size() > kMaxGrammarBytes) return BadParam(param, "the schema compiles to a grammar over 256 KiB");
  // Compiled once here to refuse what the worker could not run; the worker compiles it again
  // against the vocabulary and caches that by text.
  auto compiled = grammar::ParseGbnf(*grammar);
  if (!compiled.ok()) return BadParam(param, std::string(param) + ": " + compiled.status().message());
  return std::nullopt;
}

}  // namespace hearth::daemon
