// A model file opened for inference: the mapping, weight views and tokenizer.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "gpu_worker/llama_weights.h"
#include "gpu_worker/model_file_reader.h"
#include "gpu_worker/page_pool.h"
#include "gpu_worker/staged_model.h"
#include "model/gguf.h"
#include "model/tokenizer.h"

namespace hearth::worker {

struct LoadedModel {
  std::string path;
  std::unique_ptr<PagedRegion> region;          // pool pages holding the file (SwapIn), or null
  std::unique_ptr<model::GgufFile> file;        // the mapping the weights point into (Load), or null
  std::unique_ptr<LlamaWeights> weights;
  std::shared_ptr<const model::Tokenizer> tokenizer;  // shared with the staged copy after SwapIn

  // Maps the file and points the weights into the mapping.
  static StatusOr<std::unique_ptr<LoadedModel>> Load(const std::string& path);
  // A cold load into the pool: reads the file straight into pages of `pool` (no host copy),
  // parses it there (untrusted input) and builds the views and the tokenizer. The worker reads
  // on a loader thread instead (BackgroundRead) and then calls InPages.
  static StatusOr<std::unique_ptr<LoadedModel>> ReadIn(const std::string& path, PagePool& pool,
                                                       const ReadProgress& progress = {});
  // The end of a cold load: `region` holds the file, read in; parses it there (untrusted input)
  // and builds the views and the tokenizer. On error the region goes back to its pool.
  static StatusOr<std::unique_ptr<LoadedModel>> InPages(const std::string& path, std::unique_ptr<PagedRegion> region);
  // Swap-in: copies a staged file into pages of `pool` and moves the staged weight views onto
  // the copy (no parse). The pages go back to the pool when the result is destroyed (swap-out).
  static StatusOr<std::unique_ptr<LoadedModel>> SwapIn(const StagedModel& staged, PagePool& pool);

 private:
  // Weight views over m->file; the tokenizer from the file unless m has one.
  static StatusOr<std::unique_ptr<LoadedModel>> Finish(std::unique_ptr<LoadedModel> m);
};

}  // namespace hearth::worker
