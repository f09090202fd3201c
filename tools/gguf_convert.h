// Re-encodes a GGUF model's weight matrices to another type (for example the
// F16 "export" of a Q4_1 model), keeping its metadata and tokenizer, so the
// same file can be run by Hearth and by llama.cpp.
#pragma once

#include <string>

#include "common/status.h"
#include "kernels/ggml_type.h"

namespace hearth::tools {

struct ConvertOptions {
  std::string in_path;
  std::string out_path;
  kernels::GgmlType type = kernels::GgmlType::kF16;  // F32, F16, BF16, Q8_0, Q4_0 or Q4_1
};

// Matrices (2-D tensors) are dequantized and re-encoded; vectors (norms,
// biases) are written as F32. `general.file_type` is dropped, since it would
// describe the old encoding.
Status ConvertGguf(const ConvertOptions& options);

}  // namespace hearth::tools
