#include "gpu_worker/staged_model.h"

#include <sys/mman.h>

#include <cstring>

#include "model/gguf.h"
#include "model/tokenizer_gguf.h"

namespace hearth::worker {

StatusOr<std::unique_ptr<StagedModel>> StagedModel::Stage(const std::string& path, const Progress& progress) {
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<ModelFileReader> file, ModelFileReader::Open(path));
  const size_t size = file->size();
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<StagedModel> staged, Allocate(path, size));
  HEARTH_RETURN_IF_ERROR(file->ReadAll(staged->data_, progress));
  // The parsed file is needed only here: the weight views point into data_, not into it.
  auto parsed = model::GgufFile::Parse(staged->data_, size);
  if (!parsed.ok()) return parsed.status().WithContext(path);
  auto weights = LoadLlamaWeights(**parsed);
  if (!weights.ok()) return weights.status().WithContext(path);
  staged->weights_ = std::move(weights).value();
  auto tokenizer = model::LoadTokenizerFromGguf(**parsed);
  if (!tokenizer.ok()) return tokenizer.status().WithContext(path);
  staged->tokenizer_ = std::move(tokenizer).value();
  if (staged->tokenizer_->vocab_size() != static_cast<int32_t>(staged->weights_->config.vocab_size)) {
    return Status::Corruption(path + ": tokenizer has " + std::to_string(staged->tokenizer_->vocab_size()) +
                              " tokens but the model's vocabulary is " +
                              std::to_string(staged->weights_->config.vocab_size));
  }
  return staged;
}

StatusOr<std::unique_ptr<StagedModel>> StagedModel::Allocate(const std::string& path, size_t size) {
  void* mem = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return Status::ResourceExhausted("cannot stage " + std::to_string(size) + " bytes of " + path);
  return std::unique_ptr<StagedModel>(new StagedModel(path, static_cast<uint8_t*>(mem), size));
}

StatusOr<std::unique_ptr<StagedModel>> StagedModel::CopyOut(const std::string& path, const uint8_t* data, size_t size,
                                                            const LlamaWeights& weights,
                                                            std::shared_ptr<const model::Tokenizer> tokenizer) {
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<StagedModel> staged, Allocate(path, size));
  std::memcpy(staged->data_, data, size);
  auto rebased = RebaseLlamaWeights(weights, data, size, staged->data_);
  if (!rebased.ok()) return rebased.status().WithContext("copying out " + path);
  staged->weights_ = std::move(rebased).value();
  staged->tokenizer_ = std::move(tokenizer);
  return staged;
}

StagedModel::~StagedModel() { ::munmap(data_, size_); }

}  // namespace hearth::worker
