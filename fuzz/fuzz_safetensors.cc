// libFuzzer target: SafetensorsFile::Parse on arbitrary bytes; the same bytes are also
// tried as a config.json, the other JSON a model directory holds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/hf_config.h"
#include "model/safetensors.h"

#ifndef HEARTH_FUZZ_ENTRY
#define HEARTH_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

extern "C" int HEARTH_FUZZ_ENTRY(const uint8_t* data, size_t size) {
  using namespace hearth::model;
  auto parsed = SafetensorsFile::Parse(data, size);
  if (parsed.ok()) {
    uint64_t sum = 0;
    for (const SafetensorsTensorInfo& t : (*parsed)->tensors()) {
      if (t.num_bytes > 0) sum += t.data[0] + t.data[t.num_bytes - 1];  // ASan checks the ranges
    }
    (void)sum;
  }
  if (size > 0 && data[0] == '{') {
    (void)LlamaConfigFromHfJson(std::string_view(reinterpret_cast<const char*>(data), size));
  }
  return 0;
}
