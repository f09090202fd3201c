// Where tests find the default model: $HEARTH_MODEL_PATH, else
// $HEARTH_CACHE/SmolLM2-135M-Instruct.Q4_1.gguf, else ~/.cache/hearth/...
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace hearth::testing {

inline std::string DefaultModelPath() {
  if (const char* p = std::getenv("HEARTH_MODEL_PATH")) return p;
  const std::string file = "SmolLM2-135M-Instruct.Q4_1.gguf";
  if (const char* c = std::getenv("HEARTH_CACHE")) return std::string(c) + "/" + file;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") + "/.cache/hearth/" + file;
}

inline bool DefaultModelPresent() { return std::filesystem::exists(DefaultModelPath()); }

inline std::string SourcePath(const std::string& relative) {
  const char* dir = std::getenv("HEARTH_SOURCE_DIR");
  return std::string(dir ? dir : ".") + "/" + relative;
}

}  // namespace hearth::testing
