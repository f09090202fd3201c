// A model file opened for inference: the mapping, weight views and tokenizer.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "gpu_worker/llama_weights.h"
#include "model/gguf.h"
#include "model/tokenizer.h"

namespace hearth::worker {

struct LoadedModel {
  std::string path;
  std::unique_ptr<model::GgufFile> file;        // the mapping the weights point into
  std::unique_ptr<LlamaWeights> weights;
  std::unique_ptr<model::Tokenizer> tokenizer;

  static StatusOr<std::unique_ptr<LoadedModel>> Load(const std::string& path);
};

}  // namespace hearth::worker
