// Test helpers: locating the real SmolLM2 model file used by format tests.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace hearth::model::testing {

// HEARTH_MODEL_PATH, else $HEARTH_CACHE/<file>, else $HOME/.cache/hearth/<file>;
// empty when none exists (tests then GTEST_SKIP).
inline std::string FindSmolLM2Path() {
  const char* kFile = "SmolLM2-135M-Instruct.Q4_1.gguf";
  std::string candidates[3];
  if (const char* p = std::getenv("HEARTH_MODEL_PATH")) candidates[0] = p;
  if (const char* c = std::getenv("HEARTH_CACHE")) candidates[1] = std::string(c) + "/" + kFile;
  if (const char* h = std::getenv("HOME")) candidates[2] = std::string(h) + "/.cache/hearth/" + kFile;
  for (const std::string& path : candidates) {
    std::error_code ec;
    if (!path.empty() && std::filesystem::is_regular_file(path, ec)) return path;
  }
  return "";
}

// The directory of committed fixtures, model/testdata.
inline std::string TestdataDir() {
  const char* src = std::getenv("HEARTH_SOURCE_DIR");
  return std::string(src ? src : ".") + "/model/testdata";
}

}  // namespace hearth::model::testing
