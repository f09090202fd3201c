#include "gpu_worker/offline_commands.h"

#include <cstdio>
#include <iostream>

#include "gpu_worker/generator.h"
#include "gpu_worker/loaded_model.h"
#include "model/chat_template.h"

namespace hearth::worker {
namespace {

int Fail(const Status& st) {
  std::cerr << "hearth-worker: " << st.ToString() << "\n";
  return 1;
}

}  // namespace

int RunGenerate(const GenerateCommand& cmd) {
  auto model = LoadedModel::Load(cmd.model_path);
  if (!model.ok()) return Fail(model.status());
  std::string text = cmd.prompt;
  if (cmd.chat) {
    const model::Tokenizer& tok = *(*model)->tokenizer;
    const StatusOr<model::ChatTemplate>& tmpl = tok.chat();
    if (!tmpl.ok()) return Fail(tmpl.status());
    const std::vector<model::ChatMessage> messages = {{"user", cmd.prompt}};
    auto rendered = tmpl->Render(messages, /*add_generation_prompt=*/true);
    if (!rendered.ok()) return Fail(rendered.status());
    text = *rendered;
  }
  const model::Tokenizer& tok = *(*model)->tokenizer;
  std::vector<int32_t> prompt = tok.Encode(text, /*add_special=*/true, /*parse_special=*/cmd.chat);

  kernels::ThreadPool pool(cmd.threads);
  Generator gen(**model, pool);
  Status st = gen.Init();
  if (!st.ok()) return Fail(st);
  GenerateOptions options;
  options.max_tokens = cmd.max_tokens;
  options.sampling.temperature = cmd.temperature;
  options.sampling.top_k = cmd.top_k;
  options.sampling.top_p = cmd.top_p;
  options.sampling.min_p = cmd.min_p;
  options.sampling.seed = cmd.seed;
  options.stop = cmd.stop;
  options.prefill_chunk = cmd.prefill_chunk;
  auto result = gen.Generate(prompt, options, [](const std::string& piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  });
  if (!result.ok()) return Fail(result.status());
  std::printf("\n");
  if (cmd.show_stats) {
    std::fprintf(stderr, "prompt: %zu tokens in %.3f s (%.1f tok/s); generated: %zu tokens in %.3f s (%.1f tok/s); finish: %s\n",
                 prompt.size(), result->prefill_seconds, prompt.size() / std::max(result->prefill_seconds, 1e-9),
                 result->tokens.size(), result->decode_seconds,
                 result->tokens.size() / std::max(result->decode_seconds, 1e-9), result->finish_reason.c_str());
  }
  return 0;
}

int RunInfo(const std::string& model_path) {
  auto file = model::GgufFile::Open(model_path);
  if (!file.ok()) return Fail(file.status());
  std::printf("GGUF v%u, %zu tensors, %zu metadata keys\n", (*file)->version(), (*file)->tensors().size(),
              (*file)->metadata().size());
  for (const model::GgufKeyValue& kv : (*file)->metadata()) {
    std::printf("  %s = %s\n", kv.key.c_str(), kv.value.DebugString().c_str());
  }
  auto weights = LoadLlamaWeights(**file);
  if (!weights.ok()) return Fail(weights.status());
  const model::LlamaConfig& c = (*weights)->config;
  std::printf("arch %s: %u layers, hidden %u, heads %u (kv %u), head_dim %u, ffn %u, vocab %u, context %u, "
              "rope %s theta %.0f, tied %s; %.1f MiB of weights\n",
              c.arch.c_str(), c.num_layers, c.hidden, c.num_heads, c.num_kv_heads, c.head_dim, c.ffn_hidden,
              c.vocab_size, c.context_length, model::RopeStyleName(c.rope_style), c.rope_theta,
              c.tied_embeddings ? "yes" : "no", (*weights)->num_weight_bytes / 1048576.0);
  return 0;
}

}  // namespace hearth::worker
