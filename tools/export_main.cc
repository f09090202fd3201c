// hearth-export: GGUF -> Hugging Face safetensors directory (dequantized), or
// GGUF -> GGUF with the weights re-encoded (e.g. the F16 export of a Q4_1 model).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "tools/gguf_convert.h"
#include "tools/hf_export.h"

int main(int argc, char** argv) {
  hearth::tools::ExportOptions o;
  std::string dtype = "f16";
  std::string format = "hf";
  CLI::App app{"Export a GGUF Llama-family model to safetensors + config.json, or to another GGUF encoding"};
  app.add_option("gguf", o.gguf_path, "input GGUF file")->required();
  app.add_option("--out", o.out_dir, "output directory (hf) or file (gguf)")->required();
  app.add_option("--dtype", dtype, "f32|f16|bf16 (and q8_0|q4_0|q4_1 for --format gguf)");
  app.add_option("--format", format, "hf (safetensors directory) or gguf");
  CLI11_PARSE(app, argc, argv);
  if (format == "gguf") {
    hearth::tools::ConvertOptions c;
    c.in_path = o.gguf_path;
    c.out_path = o.out_dir;
    const std::pair<const char*, hearth::kernels::GgmlType> types[] = {
        {"f32", hearth::kernels::GgmlType::kF32},   {"f16", hearth::kernels::GgmlType::kF16},
        {"bf16", hearth::kernels::GgmlType::kBF16}, {"q8_0", hearth::kernels::GgmlType::kQ8_0},
        {"q4_0", hearth::kernels::GgmlType::kQ4_0}, {"q4_1", hearth::kernels::GgmlType::kQ4_1}};
    bool known = false;
    for (const auto& [name, type] : types) {
      if (dtype == name) {
        c.type = type;
        known = true;
      }
    }
    if (!known) {
      std::fprintf(stderr, "unknown --dtype %s\n", dtype.c_str());
      return 2;
    }
    hearth::Status st = hearth::tools::ConvertGguf(c);
    if (!st.ok()) {
      std::fprintf(stderr, "hearth-export: %s\n", st.ToString().c_str());
      return 1;
    }
    std::printf("wrote %s\n", c.out_path.c_str());
    return 0;
  }
  if (format != "hf") {
    std::fprintf(stderr, "unknown --format %s\n", format.c_str());
    return 2;
  }
  if (dtype == "f32") o.dtype = hearth::model::SafetensorsDtype::kF32;
  else if (dtype == "f16") o.dtype = hearth::model::SafetensorsDtype::kF16;
  else if (dtype == "bf16") o.dtype = hearth::model::SafetensorsDtype::kBF16;
  else {
    std::fprintf(stderr, "unknown --dtype %s\n", dtype.c_str());
    return 2;
  }
  hearth::Status st = hearth::tools::ExportGgufToHf(o);
  if (!st.ok()) {
    std::fprintf(stderr, "hearth-export: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("wrote %s\n", o.out_dir.c_str());
  return 0;
}
