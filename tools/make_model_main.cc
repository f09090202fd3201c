// hearth-make-model: writes a random-weight Llama-family model of any shape.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>

#include "tools/random_model.h"

int main(int argc, char** argv) {
  using hearth::kernels::GgmlType;
  hearth::tools::RandomModelOptions o;
  std::string type = "f32";
  CLI::App app{"Write a random-weight Llama-family model (GGUF file or safetensors directory)"};
  app.add_option("--layers", o.layers, "transformer blocks");
  app.add_option("--hidden", o.hidden, "embedding width");
  app.add_option("--heads", o.heads, "attention heads");
  app.add_option("--kv-heads", o.kv_heads, "key/value heads");
  app.add_option("--ffn", o.ffn, "feed-forward width");
  app.add_option("--vocab", o.vocab, "vocab size (default: the tokenizer's)");
  app.add_option("--ctx", o.ctx, "context length");
  app.add_option("--seed", o.seed, "random seed");
  app.add_flag("--tied", o.tied, "tie the output projection to the embeddings");
  app.add_option("--type", type, "f32|f16|bf16|q8_0|q4_0|q4_1");
  app.add_option("--format", o.format, "gguf|safetensors");
  app.add_option("--out", o.out, "output file (gguf) or directory (safetensors)")->required();
  app.add_option("--tokenizer-from", o.tokenizer_from, "GGUF to copy the tokenizer from (or tokenizer.json)");
  CLI11_PARSE(app, argc, argv);
  static const std::map<std::string, GgmlType> kTypes = {{"f32", GgmlType::kF32},   {"f16", GgmlType::kF16},
                                                         {"bf16", GgmlType::kBF16}, {"q8_0", GgmlType::kQ8_0},
                                                         {"q4_0", GgmlType::kQ4_0}, {"q4_1", GgmlType::kQ4_1}};
  auto it = kTypes.find(type);
  if (it == kTypes.end()) {
    std::fprintf(stderr, "unknown --type %s\n", type.c_str());
    return 2;
  }
  o.type = it->second;
  hearth::Status st = hearth::tools::WriteRandomModel(o);
  if (!st.ok()) {
    std::fprintf(stderr, "hearth-make-model: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("wrote %s\n", o.out.c_str());
  return 0;
}
