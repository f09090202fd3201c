// A model file staged in host memory (DESIGN.md, "Universal workers"): the whole file read
// once from disk, so that swapping the model in is a copy from memory, not a read from disk.
// The copy is parsed and checked as a GGUF file when it is staged (files are untrusted input),
// and its weight views and tokenizer are built then, once: a swap-in copies the bytes and moves
// the views onto the copy (RebaseLlamaWeights), and every swap-in shares the tokenizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "gpu_worker/model_file_reader.h"
#include "gpu_worker/llama_weights.h"
#include "model/tokenizer.h"

namespace hearth::worker {

class StagedModel {
 public:
  using Progress = ReadProgress;
  // Reads `path` (a GGUF file) into host memory, parses it and builds its weight views and
  // tokenizer. `progress` (may be empty) hears after each piece of the read.
  static StatusOr<std::unique_ptr<StagedModel>> Stage(const std::string& path, const Progress& progress = {});
  // Swap-out of a warm model that has no copy: the copy made from its memory ([data, +size),
  // the file's bytes, which `weights` point into) by a memory copy (on a GPU, device to host),
  // the views moved onto it and the tokenizer shared. Nothing is read or parsed again.
  static StatusOr<std::unique_ptr<StagedModel>> CopyOut(const std::string& path, const uint8_t* data, size_t size,
                                                        const LlamaWeights& weights,
                                                        std::shared_ptr<const model::Tokenizer> tokenizer);
  ~StagedModel();
  StagedModel(const StagedModel&) = delete;
  StagedModel& operator=(const StagedModel&) = delete;

  const std::string& path() const { return path_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  // Views into data(); owned vectors are shared with the weights rebased from these.
  const LlamaWeights& weights() const { return *weights_; }
  const std::shared_ptr<const model::Tokenizer>& tokenizer() const { return tokenizer_; }

 private:
  StagedModel(std::string path, uint8_t* data, size_t size) : path_(std::move(path)), data_(data), size_(size) {}
  // Host memory for `size` bytes: page-aligned, so rebased views keep their alignment.
  static StatusOr<std::unique_ptr<StagedModel>> Allocate(const std::string& path, size_t size);

  const std::string path_;
  uint8_t* const data_;  // page-aligned, [size_]
  const size_t size_;
  std::unique_ptr<const LlamaWeights> weights_;
  std::shared_ptr<const model::Tokenizer> tokenizer_;
};

}  // namespace hearth::worker
