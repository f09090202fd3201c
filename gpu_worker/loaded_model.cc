#include "gpu_worker/loaded_model.h"

#include <cstring>

#include "model/tokenizer_gguf.h"

namespace hearth::worker {

StatusOr<std::unique_ptr<LoadedModel>> LoadedModel::Load(const std::string& path) {
  auto m = std::make_unique<LoadedModel>();
  m->path = path;
  auto file = model::GgufFile::Open(path);
  if (!file.ok()) return file.status().WithContext(path);
  m->file = std::move(file).value();
  return Finish(std::move(m));
}

StatusOr<std::unique_ptr<LoadedModel>> LoadedModel::ReadIn(const std::string& path, PagePool& pool,
                                                           const ReadProgress& progress) {
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<ModelFileReader> reader, ModelFileReader::Open(path));
  auto region = pool.Map(reader->size());
  if (!region.ok()) return region.status().WithContext("loading " + path);
  HEARTH_RETURN_IF_ERROR(reader->ReadAll((*region)->data(), progress));
  return InPages(path, std::move(region).value());
}

StatusOr<std::unique_ptr<LoadedModel>> LoadedModel::InPages(const std::string& path,
                                                            std::unique_ptr<PagedRegion> region) {
  auto m = std::make_unique<LoadedModel>();
  m->path = path;
  m->region = std::move(region);
  auto file = model::GgufFile::Parse(m->region->data(), m->region->size());
  if (!file.ok()) return file.status().WithContext(path);
  m->file = std::move(file).value();
  return Finish(std::move(m));
}

StatusOr<std::unique_ptr<LoadedModel>> LoadedModel::SwapIn(const StagedModel& staged, PagePool& pool) {
  auto m = std::make_unique<LoadedModel>();
  m->path = staged.path();
  auto region = pool.Map(staged.size());
  if (!region.ok()) return region.status().WithContext("swapping in " + staged.path());
  m->region = std::move(region).value();
  std::memcpy(m->region->data(), staged.data(), staged.size());
  // Staging parsed and checked these bytes and built the views (and checked the tokenizer
  // against them); the copy only moves them.
  auto weights = RebaseLlamaWeights(staged.weights(), staged.data(), staged.size(), m->region->data());
  if (!weights.ok()) return weights.status().WithContext(staged.path());
  m->weights = std::move(weights).value();
  m->tokenizer = staged.tokenizer();
  return m;
}

StatusOr<std::unique_ptr<LoadedModel>> LoadedModel::Finish(std::unique_ptr<LoadedModel> m) {
  const std::string& path = m->path;
  auto weights = LoadLlamaWeights(*m->file);
  if (!weights.ok()) return weights.status().WithContext(path);
  m->weights = std::move(weights).value();
  if (!m->tokenizer) {
    auto tokenizer = model::LoadTokenizerFromGguf(*m->file);
    if (!tokenizer.ok()) return tokenizer.status().WithContext(path);
    m->tokenizer = std::move(tokenizer).value();
  }
  if (m->tokenizer->vocab_size() != static_cast<int32_t>(m->weights->config.vocab_size)) {
    return Status::Corruption(path + ": tokenizer has " + std::to_string(m->tokenizer->vocab_size()) +
                              " tokens but the model's vocabulary is " +
                              std::to_string(m->weights->config.vocab_size));
  }
  return m;
}

}  // namespace hearth::worker
