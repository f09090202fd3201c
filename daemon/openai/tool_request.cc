#include "daemon/openai/tool_request.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string_view>

#include "sampling/grammar/gbnf_parser.h"
#include "sampling/grammar/json_schema_grammar.h"
#include "sampling/sampling_params.h"
#include "daemon/openai/request_json.h"

namespace hearth::daemon {
namespace {

using rapidjson::Value;
using Error = std::optional<ApiError>;

std::string Json(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

// OpenAI's rule for function names.
bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// tools[i]: {"type":"function","function":{"name", "description"?, "parameters"?, "strict"?}}.
Error CheckTool(const Value& tool, size_t i, std::vector<std::string>* names) {
  const std::string at = "tools[" + std::to_string(i) + "]";
  if (!tool.IsObject()) return BadParam(at, at + " must be an object");
  const Value* type = JsonField(tool, "type");
  if (!type || !type->IsString() || JsonStr(*type) != "function") {
    return BadParam(at + ".type", at + ".type must be \"function\" (the only tool type supported)");
  }
  const Value* fn = JsonField(tool, "function");
  if (!fn || !fn->IsObject()) return BadParam(at + ".function", at + ".function must be an object");
  const Value* name = JsonField(*fn, "name");
  if (!name) return BadParam(at + ".function.name", at + ".function.name is required");
  if (!name->IsString() || !ValidName(std::string_view(name->GetString(), name->GetStringLength()))) {
    return BadParam(at + ".function.name", at + ".function.name must be 1 to 64 letters, digits, underscores or dashes");
  }
  for (const std::string& seen : *names) {
    if (seen == JsonStr(*name)) return BadParam(at + ".function.name", "two tools are named '" + seen + "'");
  }
  names->push_back(JsonStr(*name));
  if (const Value* d = JsonField(*fn, "description"); d && !d->IsString()) {
    return BadParam(at + ".function.description", at + ".function.description must be a string");
  }
  if (const Value* s = JsonField(*fn, "strict"); s && !s->IsBool()) {
    return BadParam(at + ".function.strict", at + ".function.strict must be a boolean");
  }
  if (const Value* p = JsonField(*fn, "parameters")) {
    const std::string param = at + ".function.parameters";
    if (!p->IsObject()) return BadParam(param, param + " must be a JSON schema object");
    const Value* ptype = JsonField(*p, "type");
    if (ptype && !(ptype->IsString() && JsonStr(*ptype) == "object")) {
      return BadParam(param, param + " must be a schema of type \"object\" (the arguments are a JSON object)");
    }
  }
  return std::nullopt;
}

Error ParseChoice(const Value& body, ToolRequest* out) {
  out->choice = out->has_tools() ? ToolChoice::kAuto : ToolChoice::kNone;
  const Value* v = JsonField(body, "tool_choice");
  if (!v) return std::nullopt;
  if (v->IsString()) {
    const std::string s = JsonStr(*v);
    if (s == "none") {
      out->choice = ToolChoice::kNone;
    } else if (s == "auto") {
      out->choice = out->has_tools() ? ToolChoice::kAuto : ToolChoice::kNone;
    } else if (s == "required") {
      out->choice = ToolChoice::kRequired;
    } else {
      return BadParam("tool_choice",
                 "tool_choice must be \"none\", \"auto\", \"required\" or {\"type\": \"function\", "
                 "\"function\": {\"name\": ...}}");
    }
  } else if (v->IsObject()) {
    const Value* type = JsonField(*v, "type");
    const Value* fn = JsonField(*v, "function");
    const Value* name = fn && fn->IsObject() ? JsonField(*fn, "name") : nullptr;
    if (!type || !type->IsString() || JsonStr(*type) != "function" || !name || !name->IsString()) {
      return BadParam("tool_choice",
                 "tool_choice as an object must be {\"type\": \"function\", \"function\": {\"name\": ...}}");
    }
    out->choice = ToolChoice::kNamed;
    out->forced_name = JsonStr(*name);
    bool known = false;
    for (const std::string& n : out->names) known = known || n == out->forced_name;
    if (out->has_tools() && !known) {
      return BadParam("tool_choice",
                 "tool_choice names the function '" + out->forced_name.substr(0, 64) + "', which is not in tools");
    }
  } else {
    return BadParam("tool_choice", "tool_choice must be a string or an object");
  }
  if (out->forced() && !out->has_tools()) {
    return BadParam("tool_choice", "tool_choice requires tools: the request offers none");
  }
  return std::nullopt;
}

// Moves the $defs (or definitions) of `params` into `defs`, the root's; a name two tools define
// differently is refused.
Error HoistDefs(Value& params, const char* keyword, Value& defs, rapidjson::Document::AllocatorType& a,
                const std::string& param) {
  auto it = params.FindMember(keyword);
  if (it == params.MemberEnd()) return std::nullopt;
  if (!it->value.IsObject()) return BadParam(param, param + ": " + keyword + " must be an object");
  for (auto d = it->value.MemberBegin(); d != it->value.MemberEnd(); ++d) {
    auto existing = defs.FindMember(d->name);
    if (existing != defs.MemberEnd()) {
      if (existing->value != d->value) {
        return BadParam(param, param + ": " + keyword + "/" + JsonStr(d->name) + " is defined differently by another tool");
      }
      continue;
    }
    defs.AddMember(Value(d->name, a), Value(d->value, a), a);
  }
  params.RemoveMember(it);
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> ToolCallGrammar(const Value& tools, const std::vector<std::string>& allowed, bool parallel,
                                        std::string* grammar) {
  rapidjson::Document schema(rapidjson::kObjectType);
  auto& a = schema.GetAllocator();
  Value calls(rapidjson::kArrayType);
  Value defs(rapidjson::kObjectType);
  Value definitions(rapidjson::kObjectType);
  for (rapidjson::SizeType i = 0; i < tools.Size(); ++i) {
    const Value& fn = tools[i]["function"];
    const std::string name = JsonStr(fn["name"]);
    bool wanted = allowed.empty();
    for (const std::string& n : allowed) wanted = wanted || n == name;
    if (!wanted) continue;
    const std::string param = "tools[" + std::to_string(i) + "].function.parameters";
    Value params(rapidjson::kObjectType);
    if (const Value* p = JsonField(fn, "parameters")) params.CopyFrom(*p, a);
    if (!params.HasMember("type")) params.AddMember("type", "object", a);
    if (auto e = HoistDefs(params, "$defs", defs, a, param)) return e;
    if (auto e = HoistDefs(params, "definitions", definitions, a, param)) return e;
    Value name_schema(rapidjson::kObjectType);
    name_schema.AddMember("const", Value(name.c_str(), a), a);
    Value props(rapidjson::kObjectType);
    props.AddMember("name", name_schema, a);
    props.AddMember("arguments", params, a);
    Value required(rapidjson::kArrayType);
    required.PushBack("name", a).PushBack("arguments", a);
    Value call(rapidjson::kObjectType);
    call.AddMember("type", "object", a).AddMember("properties", props, a).AddMember("required", required, a);
    calls.PushBack(call, a);
  }
  Value items(rapidjson::kObjectType);
  if (calls.Size() == 1) {
    items = calls[0];
  } else {
    items.AddMember("anyOf", calls, a);
  }
  schema.AddMember("type", "array", a);
  schema.AddMember("items", items, a);
  schema.AddMember("minItems", 1, a);
  schema.AddMember("maxItems", parallel ? kMaxParallelToolCalls : 1, a);
  if (defs.MemberCount() > 0) schema.AddMember("$defs", defs, a);
  if (definitions.MemberCount() > 0) schema.AddMember("definitions", definitions, a);
  auto text = grammar::JsonSchemaToGbnf(Json(schema));
  if (!text.ok())
    return BadParam("tools", "tools: the functions' parameters cannot be enforced: " + text.status().message());
  if (text->size() > kMaxGrammarBytes)
    return BadParam("tools", "tools: the functions' parameters compile to a grammar over 256 KiB");
  auto compiled = grammar::ParseGbnf(*text);
  if (!compiled.ok()) return BadParam("tools", "tools: " + compiled.status().message());
  *grammar = std::move(*text);
  return std::nullopt;
}

std::optional<ApiError> ParseMessageToolFields(const Value& m, const std::string& at, model::ChatMessage* out) {
  if (const Value* id = JsonField(m, "tool_call_id")) {
    if (!id->IsString()) return BadParam(at + ".tool_call_id", at + ".tool_call_id must be a string");
    out->tool_call_id = JsonStr(*id);
  }
  if (out->role == "tool" && out->tool_call_id.empty()) {
    return BadParam(at + ".tool_call_id", at + ".tool_call_id is required for a tool message");
  }
  if (const Value* name = JsonField(m, "name")) {
    if (!name->IsString()) return BadParam(at + ".name", at + ".name must be a string");
    if (out->role == "tool") out->name = JsonStr(*name);
  }
  const Value* calls = JsonField(m, "tool_calls");
  if (!calls) return std::nullopt;
  const std::string param = at + ".tool_calls";
  if (out->role != "assistant") return BadParam(param, param + " is only allowed on assistant messages");
  if (!calls->IsArray()) return BadParam(param, param + " must be an array");
  if (calls->Empty()) return std::nullopt;
  rapidjson::Document doc(rapidjson::kArrayType);
  auto& a = doc.GetAllocator();
  for (rapidjson::SizeType i = 0; i < calls->Size(); ++i) {
    const Value& call = (*calls)[i];
    const std::string ci = param + "[" + std::to_string(i) + "]";
    const Value* fn = call.IsObject() ? JsonField(call, "function") : nullptr;
    const Value* id = call.IsObject() ? JsonField(call, "id") : nullptr;
    const Value* name = fn && fn->IsObject() ? JsonField(*fn, "name") : nullptr;
    const Value* args = fn && fn->IsObject() ? JsonField(*fn, "arguments") : nullptr;
    if (!id || !id->IsString() || !name || !name->IsString() || (args && !args->IsString())) {
      return BadParam(ci, ci + " must be {\"id\": string, \"type\": \"function\", \"function\": {\"name\": string, "
                          "\"arguments\": string}}");
    }
    Value arguments(rapidjson::kObjectType);
    if (args) {
      rapidjson::Document parsed;
      parsed.Parse(args->GetString(), args->GetStringLength());
      if (!parsed.HasParseError() && parsed.IsObject()) {
        arguments.CopyFrom(parsed, a);
      } else {
        arguments.SetString(args->GetString(), args->GetStringLength(), a);
      }
    }
    Value function(rapidjson::kObjectType);
    function.AddMember("name", Value(*name, a), a).AddMember("arguments", arguments, a);
    Value entry(rapidjson::kObjectType);
    entry.AddMember("id", Value(*id, a), a).AddMember("type", "function", a).AddMember("function", function, a);
    doc.PushBack(entry, a);
  }
  out->tool_calls_json = Json(doc);
  return std::nullopt;
}

std::optional<ApiError> ParseToolRequest(const Value& body, ToolRequest* out) {
  *out = ToolRequest{};
  const Value* tools = JsonField(body, "tools");
  if (tools) {
    if (!tools->IsArray()) return BadParam("tools", "tools must be an array");
    if (tools->Size() > kMaxTools)
      return BadParam("tools", "tools may hold at most " + std::to_string(kMaxTools) + " tools");
    for (rapidjson::SizeType i = 0; i < tools->Size(); ++i) {
      if (auto e = CheckTool((*tools)[i], i, &out->names)) return e;
    }
    if (!tools->Empty()) out->tools_json = Json(*tools);
  }
  if (const Value* p = JsonField(body, "parallel_tool_calls")) {
    if (!p->IsBool()) return BadParam("parallel_tool_calls", "parallel_tool_calls must be a boolean");
    out->parallel = p->GetBool();
  }
  if (auto e = ParseChoice(body, out)) return e;
  if (!out->forced()) return std::nullopt;
  // A schema the compiler refuses is found per tool first, so the 400 names the tool.
  for (rapidjson::SizeType i = 0; i < tools->Size(); ++i) {
    const Value& fn = (*tools)[i]["function"];
    if (out->choice == ToolChoice::kNamed && JsonStr(fn["name"]) != out->forced_name) continue;
    const Value* p = JsonField(fn, "parameters");
    if (!p) continue;
    rapidjson::Document params;
    params.CopyFrom(*p, params.GetAllocator());
    if (!params.HasMember("type")) params.AddMember("type", "object", params.GetAllocator());
    auto text = grammar::JsonSchemaToGbnf(Json(params));
    if (!text.ok()) {
      const std::string param = "tools[" + std::to_string(i) + "].function.parameters";
      return BadParam(param, param + ": " + text.status().message());
    }
  }
  std::vector<std::string> allowed;
  if (out->choice == ToolChoice::kNamed) allowed.push_back(out->forced_name);
  return ToolCallGrammar(*tools, allowed, out->parallel, &out->grammar);
}

}  // namespace hearth::daemon
