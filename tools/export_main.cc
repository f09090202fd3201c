// hearth-export: GGUF -> Hugging Face safetensors directory (dequantized).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "tools/hf_export.h"

int main(int argc, char** argv) {
  hearth::tools::ExportOptions o;
  std::string dtype = "f16";
  CLI::App app{"Export a GGUF Llama-family model to safetensors + config.json"};
  app.add_option("gguf", o.gguf_path, "input GGUF file")->required();
  app.add_option("--out", o.out_dir, "output directory")->required();
  app.add_option("--dtype", dtype, "f32|f16|bf16");
  CLI11_PARSE(app, argc, argv);
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
