// hearth-worker's offline subcommands: run a model without the daemon.
#pragma once

#include <string>
#include <vector>

namespace hearth::worker {

struct GenerateCommand {
  std::string model_path;
  std::string prompt;
  bool chat = false;           // wrap the prompt as a user message in the model's chat template
  int32_t max_tokens = 64;
  float temperature = 0.0f;    // greedy by default, as llama.cpp's conformance runs
  int32_t top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
  uint64_t seed = 0;
  int32_t threads = 0;
  int32_t prefill_chunk = 0;
  std::vector<std::string> stop;
  bool show_stats = true;
};

// Prints the generated text on stdout as it comes, and speeds on stderr.
int RunGenerate(const GenerateCommand& cmd);

// Prints a model file's metadata, shape and tensors.
int RunInfo(const std::string& model_path);

}  // namespace hearth::worker
