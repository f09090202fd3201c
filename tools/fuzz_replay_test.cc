// Replays every committed fuzz corpus input through the fuzz targets' bodies, so CI
// catches regressions on known inputs without clang or libFuzzer.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#define HEARTH_FUZZ_ENTRY FuzzGgufOne
#include "fuzz/fuzz_gguf.cc"  // NOLINT: compiled here under another entry name
#undef HEARTH_FUZZ_ENTRY
#define HEARTH_FUZZ_ENTRY FuzzSafetensorsOne
#include "fuzz/fuzz_safetensors.cc"  // NOLINT
#undef HEARTH_FUZZ_ENTRY
#define HEARTH_FUZZ_ENTRY FuzzJinjaOne
#include "fuzz/fuzz_jinja.cc"  // NOLINT
#undef HEARTH_FUZZ_ENTRY
#define HEARTH_FUZZ_ENTRY FuzzGrammarOne
#include "fuzz/fuzz_grammar.cc"  // NOLINT
#undef HEARTH_FUZZ_ENTRY

namespace {

std::string CorpusDir(const std::string& name) {
  const char* src = std::getenv("HEARTH_SOURCE_DIR");
  return std::string(src ? src : ".") + "/fuzz/corpus/" + name;
}

// Runs `entry` on every file in the corpus directory; returns how many ran.
size_t Replay(const std::string& dir, int (*entry)(const uint8_t*, size_t)) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    entry(bytes.data(), bytes.size());
    ++n;
  }
  return n;
}

TEST(FuzzReplayTest, GgufCorpus) { EXPECT_GT(Replay(CorpusDir("gguf"), FuzzGgufOne), 0u); }

TEST(FuzzReplayTest, JinjaCorpus) { EXPECT_GT(Replay(CorpusDir("jinja"), FuzzJinjaOne), 0u); }

TEST(FuzzReplayTest, GrammarCorpus) { EXPECT_GT(Replay(CorpusDir("grammar"), FuzzGrammarOne), 0u); }

TEST(FuzzReplayTest, SafetensorsCorpus) {
  EXPECT_GT(Replay(CorpusDir("safetensors"), FuzzSafetensorsOne), 0u);
}

}  // namespace
