// libFuzzer target: the grammar engine on arbitrary text. The first byte picks the compiler
// (even: grammar text, odd: JSON schema); the rest up to the first NUL is the grammar or
// schema, and the bytes after it are matched against the compiled grammar, with a token mask
// over a small vocabulary at every step. Errors are fine; a crash, a hang or unbounded memory
// is what the fuzzer looks for.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sampling/grammar/compiled_grammar.h"
#include "sampling/grammar/json_schema_grammar.h"

#ifndef HEARTH_FUZZ_ENTRY
#define HEARTH_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

extern "C" int HEARTH_FUZZ_ENTRY(const uint8_t* data, size_t size) {
  using namespace hearth::grammar;
  if (size == 0) return 0;
  const std::string_view all(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t nul = all.find('\0');
  const std::string_view source = all.substr(0, nul);
  const std::string_view input = nul == std::string_view::npos ? std::string_view() : all.substr(nul + 1);
  GrammarLimits limits;  // smaller than the server's, so each input stays quick
  limits.max_rules = 2000;
  limits.max_elements = 20000;
  limits.max_repeat = 100;
  limits.max_states = 512;
  limits.max_stacks = 64;
  limits.max_stack_depth = 128;
  std::string text(source);
  if (data[0] & 1) {
    auto compiled = JsonSchemaToGbnf(source, limits);
    if (!compiled.ok()) return 0;
    text = std::move(*compiled);
  }
  static const std::shared_ptr<const Vocabulary> vocab = [] {
    auto v = std::make_shared<Vocabulary>();
    v->token_bytes = {"", "{", "}", "\"", "a", "ab", ":", " ", "1", "-0.5", "true", "null", "[", "]", ",", "\xC3\xA9", "\xC3"};
    v->end_tokens = {0};
    return v;
  }();
  GrammarCache cache(vocab, 1, limits);
  auto grammar = cache.Get(text);
  if (!grammar.ok()) return 0;
  GrammarMatcher matcher(*grammar);
  for (size_t i = 0; i < input.size() && i < 256 && !matcher.IsDead(); ++i) {
    (void)matcher.Mask();
    const int32_t token = static_cast<uint8_t>(input[i]) % vocab->size();
    matcher.Accept(token);
  }
  return 0;
}
