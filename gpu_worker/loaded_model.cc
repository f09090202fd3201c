#include "gpu_worker/loaded_model.h"

#include "model/tokenizer_gguf.h"

namespace hearth::worker {

StatusOr<std::unique_ptr<LoadedModel>> LoadedModel::Load(const std::string& path) {
  auto m = std::make_unique<LoadedModel>();
  m->path = path;
  auto file = model::GgufFile::Open(path);
  if (!file.ok()) return file.status().WithContext(path);
  m->file = std::move(file).value();
  auto weights = LoadLlamaWeights(*m->file);
  if (!weights.ok()) return weights.status().WithContext(path);
  m->weights = std::move(weights).value();
  auto tokenizer = model::LoadTokenizerFromGguf(*m->file);
  if (!tokenizer.ok()) return tokenizer.status().WithContext(path);
  m->tokenizer = std::move(tokenizer).value();
  if (m->tokenizer->vocab_size() != static_cast<int32_t>(m->weights->config.vocab_size)) {
    return Status::Corruption(path + ": tokenizer has " + std::to_string(m->tokenizer->vocab_size()) +
                              " tokens but the model's vocabulary is " +
                              std::to_string(m->weights->config.vocab_size));
  }
  return m;
}

}  // namespace hearth::worker
