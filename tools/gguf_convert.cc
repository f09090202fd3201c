#include "tools/gguf_convert.h"

#include "kernels/cpu/quant.h"
#include "model/gguf.h"
#include "model/gguf_writer.h"

namespace hearth::tools {

Status ConvertGguf(const ConvertOptions& options) {
  HEARTH_ASSIGN_OR_RETURN(auto file, model::GgufFile::Open(options.in_path));
  model::GgufWriter writer;
  writer.SetAlignment(static_cast<uint32_t>(file->alignment()));
  for (const model::GgufKeyValue& kv : file->metadata()) {
    if (kv.key == "general.alignment" || kv.key == "general.file_type") continue;
    writer.AddValue(kv.key, kv.value);
  }
  for (const model::GgufTensorInfo& t : file->tensors()) {
    const bool matrix = t.dims.size() == 2;
    const kernels::GgmlType target = matrix ? options.type : kernels::GgmlType::kF32;
    if (matrix && t.dims[0] % 32 != 0 && target != kernels::GgmlType::kF32 && target != kernels::GgmlType::kF16 &&
        target != kernels::GgmlType::kBF16) {
      return Status::InvalidArgument("tensor '" + t.name + "' rows are not a multiple of 32");
    }
    const model::GgufTensorInfo* info = &t;
    writer.AddTensor(t.name, target, t.dims, [info, target]() -> StatusOr<std::vector<uint8_t>> {
      HEARTH_ASSIGN_OR_RETURN(std::vector<float> values,
                              kernels::DequantizeTensor(info->type, info->data, info->num_bytes, info->num_elements));
      return kernels::QuantizeTensor(target, values.data(), values.size());
    });
  }
  // `file` must stay mapped while the producers run.
  return writer.WriteFile(options.out_path);
}

}  // namespace hearth::tools
