// libFuzzer target: GgufFile::Parse on arbitrary bytes, then every accessor a loader
// would use (getters, config, reference dequantizers on small tensors).
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/quant.h"
#include "model/gguf.h"
#include "model/llama_config.h"

#ifndef HEARTH_FUZZ_ENTRY
#define HEARTH_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

extern "C" int HEARTH_FUZZ_ENTRY(const uint8_t* data, size_t size) {
  using namespace hearth::model;
  auto parsed = GgufFile::Parse(data, size);
  if (!parsed.ok()) return 0;
  const GgufFile& f = **parsed;
  for (const GgufKeyValue& kv : f.metadata()) {
    (void)kv.value.DebugString();
    (void)f.GetString(kv.key);
    (void)f.GetUint(kv.key);
    (void)f.GetInt(kv.key);
    (void)f.GetFloat(kv.key);
    (void)f.GetBool(kv.key);
    (void)f.GetStringArray(kv.key);
    (void)f.GetFloatArray(kv.key);
    (void)f.GetIntArray(kv.key);
  }
  (void)LlamaConfigFromGguf(f);
  for (const GgufTensorInfo& t : f.tensors()) {
    if (t.num_elements <= (1u << 16))
      (void)hearth::kernels::DequantizeTensor(t.type, t.data, t.num_bytes, t.num_elements);
  }
  return 0;
}
