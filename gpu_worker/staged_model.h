// A model file staged in host memory (DESIGN.md, "Universal workers"): the whole file read
// once from disk, so that swapping the model in is a copy from memory, not a read from disk.
// The copy is checked as a GGUF file when it is staged (files are untrusted input), and its
// tokenizer is built then, once: every swap-in shares it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "model/tokenizer.h"

namespace hearth::worker {

class StagedModel {
 public:
  // Reads `path` (a GGUF file) into host memory and parses it.
  static StatusOr<std::unique_ptr<StagedModel>> Stage(const std::string& path);
  ~StagedModel();
  StagedModel(const StagedModel&) = delete;
  StagedModel& operator=(const StagedModel&) = delete;

  const std::string& path() const { return path_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::shared_ptr<const model::Tokenizer>& tokenizer() const { return tokenizer_; }

 private:
  StagedModel(std::string path, uint8_t* data, size_t size) : path_(std::move(path)), data_(data), size_(size) {}

  const std::string path_;
  uint8_t* const data_;  // page-aligned, [size_]
  const size_t size_;
  std::shared_ptr<const model::Tokenizer> tokenizer_;
};

}  // namespace hearth::worker
