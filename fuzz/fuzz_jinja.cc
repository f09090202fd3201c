// libFuzzer target: parses arbitrary bytes as a Jinja chat template and renders it with a small
// conversation (tools included). Errors are expected; a crash, a sanitizer report, a hang or an
// output past the interpreter's limit is a bug.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>

#include "model/jinja/limits.h"
#include "model/jinja/template.h"

#ifndef HEARTH_FUZZ_ENTRY
#define HEARTH_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

extern "C" int HEARTH_FUZZ_ENTRY(const uint8_t* data, size_t size) {
  using namespace hearth::model::jinja;
  auto tmpl = Template::Parse(std::string(reinterpret_cast<const char*>(data), size));
  if (!tmpl.ok()) return 0;
  static const Value messages = *ParseJson(
      R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hi é"},)"
      R"({"role":"assistant","content":null,"tool_calls":[{"id":"call00001","type":"function",)"
      R"("function":{"name":"f","arguments":{"x":1}}}]},{"role":"tool","tool_call_id":"call00001","content":"2"}])");
  static const Value tools = *ParseJson(
      R"([{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"x":{"type":"integer"}}}}}])");
  const std::unordered_map<std::string, Value> vars = {
      {"messages", messages}, {"tools", tools}, {"add_generation_prompt", Value(true)},
      {"bos_token", Value("<s>")}, {"eos_token", Value("</s>")}};
  auto out = tmpl->Render(vars, 1721995200);
  if (out.ok() && out->size() > kMaxStringBytes) {
    std::fprintf(stderr, "fuzz_jinja: output past the limit\n");
    std::abort();
  }
  return 0;
}
