// hearth-worker: a universal worker. hearthd starts it with `serve`; the
// other subcommands run a model offline.
#include <CLI/CLI.hpp>

#include "common/log.h"
#include "gpu_worker/offline_commands.h"
#include "gpu_worker/worker_server.h"

int main(int argc, char** argv) {
  using namespace hearth;
  CLI::App app{"hearth-worker: runs models for hearthd, or offline"};
  app.require_subcommand(1);

  worker::WorkerOptions serve_options;
  CLI::App* serve = app.add_subcommand("serve", "serve hearthd over an inherited Unix socket");
  serve->add_option("--fd", serve_options.fd, "file descriptor of the socket")->required();
  serve->add_option("--threads", serve_options.threads, "CPU threads (0: all cores)");
  serve->add_option("--kv-cache-mb", serve_options.kv_cache_mb, "KV cache per model, MiB, when hearthd does not say")
      ->capture_default_str();
  serve->add_option("--pool-mb", serve_options.pool_mb,
                    "page pool for every model's weights and KV cache, MiB, made at the first load (0: pages are made "
                    "as they are first used, up to the machine's memory)");

  worker::GenerateCommand gen;
  CLI::App* generate = app.add_subcommand("generate", "generate text from a prompt, offline");
  generate->add_option("-m,--model", gen.model_path, "GGUF model file")->required();
  generate->add_option("-p,--prompt", gen.prompt, "prompt text")->required();
  generate->add_flag("--chat", gen.chat, "wrap the prompt in the model's chat template as a user message");
  generate->add_option("-n,--max-tokens", gen.max_tokens, "tokens to generate")->capture_default_str();
  generate->add_option("--temperature", gen.temperature, "0 is greedy")->capture_default_str();
  generate->add_option("--top-k", gen.top_k, "0 is off");
  generate->add_option("--top-p", gen.top_p);
  generate->add_option("--min-p", gen.min_p);
  generate->add_option("--seed", gen.seed);
  generate->add_option("--stop", gen.stop, "stop string (repeatable)");
  generate->add_option("-t,--threads", gen.threads, "CPU threads (0: all cores)");
  generate->add_option("--prefill-chunk", gen.prefill_chunk, "prefill the prompt in chunks of this many tokens");

  std::string info_model;
  CLI::App* info = app.add_subcommand("info", "print a model file's metadata and shape");
  info->add_option("-m,--model", info_model, "GGUF model file")->required();

  CLI11_PARSE(app, argc, argv);

  if (generate->parsed()) return worker::RunGenerate(gen);
  if (info->parsed()) return worker::RunInfo(info_model);

  if (serve->parsed()) {
    Status st = worker::ServeDaemon(serve_options);
    if (!st.ok()) {
      LogError("worker failed").Kv("error", st.ToString());
      return 1;
    }
    return 0;
  }
  return 2;
}
