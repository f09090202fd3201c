// libFuzzer target: tokenizes and detokenizes arbitrary bytes with a synthetic byte-level
// vocabulary (or the real SmolLM2 one when HEARTH_MODEL_PATH points at it). Any crash, sanitizer
// report or failed round trip of valid UTF-8 is a bug.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "model/bpe.h"
#include "model/detokenizer.h"
#include "model/tokenizer.h"
#include "model/tokenizer_gguf.h"
#include "model/tokenizer_test_util.h"
#include "model/unicode.h"

namespace {

using hearth::model::Tokenizer;

std::unique_ptr<Tokenizer> MakeTokenizer() {
  if (const char* path = std::getenv("HEARTH_MODEL_PATH")) {
    auto t = hearth::model::LoadTokenizerFromGguf(std::string(path));
    if (t.ok()) return std::move(t).value();
  }
  auto spec = hearth::model::testing::ByteLevelSpec();
  spec.pre_tokenizer = "smollm";
  return std::move(Tokenizer::Create(std::move(spec))).value();
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_tokenizer: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<Tokenizer> tokenizer = MakeTokenizer();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool parse_special = size > 0 && (data[0] & 1);
  const auto ids = tokenizer->Encode(text, /*add_special=*/true, parse_special);
  auto decoded = tokenizer->Decode(ids, {.render_special = true});
  Check(decoded.ok(), "decode of encoded ids failed");
  // Invalid input is tokenized as if each bad byte were U+FFFD, and bytes the vocabulary
  // cannot spell (SmolLM2 lacks a few control bytes) are dropped.
  std::string expected;
  for (char ch : hearth::model::SanitizeUtf8(text)) {
    const std::string spelled = hearth::model::BytesToVocabText(std::string(1, ch));
    if (tokenizer->TokenId(spelled)) expected.push_back(ch);
  }
  Check(*decoded == expected, "round trip changed the text");

  hearth::model::StreamingDetokenizer stream(*tokenizer, {.render_special = true});
  std::string streamed;
  for (int32_t id : ids) {
    auto chunk = stream.Push(id);
    Check(chunk.ok() && hearth::model::IsValidUtf8(*chunk), "stream chunk not valid UTF-8");
    streamed += *chunk;
  }
  streamed += stream.Flush();
  // Decode may return invalid UTF-8 (a dropped lead byte); the stream replaces such bytes.
  Check(streamed == hearth::model::SanitizeUtf8(*decoded), "streamed text differs from Decode");
  return 0;
}
