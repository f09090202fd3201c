// hearth-bench-longctx: accuracy and speed of the long-context attention
// methods against dense attention, in one run on one model file:
//   - perplexity over real English prose a Debian package ships (the GNU
//     licenses in /usr/share/common-licenses), at each context length;
//   - passkey retrieval: a 5-digit number hidden at several depths of filler
//     made of that prose, answered by greedy decoding;
//   - prefill time of one prompt of each length, and decode tok/s after it.
// Prints one JSON object on stdout; docs/benchmarks.md ("Long-context attention") has the
// commands and the figures.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <time.h>

#include "common/check.h"
#include "common/status.h"
#include "gpu_worker/attention_router.h"
#include "gpu_worker/batch.h"
#include "gpu_worker/kv_cache.h"
#include "gpu_worker/llama_runner.h"
#include "gpu_worker/loaded_model.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/thread_pool.h"

namespace hearth::bench {
namespace {

struct Options {
  std::string model_path;
  int threads = 0;
  std::vector<std::string> ppl_files = {"/usr/share/common-licenses/GPL-3", "/usr/share/common-licenses/GPL-2"};
  std::vector<std::string> filler_files = {"/usr/share/common-licenses/LGPL-2.1",
                                           "/usr/share/common-licenses/Apache-2.0",
                                           "/usr/share/common-licenses/MPL-2.0"};
  std::vector<int32_t> ppl_contexts = {1024, 4096, 8192};
  std::vector<int32_t> passkey_contexts = {2048, 4096, 8192};
  std::vector<double> passkey_depths = {0.1, 0.5, 0.9};
  std::vector<int32_t> speed_contexts = {4096, 8192};
  int32_t decode_tokens = 16;
  int32_t chunk = 512;  // prefill chunk of the perplexity runs (the result does not depend on it)
  std::vector<std::string> methods = {"dense", "sample"};
  std::vector<std::string> parts = {"ppl", "passkey", "speed"};
  worker::LongContextOptions sample;  // the "sample" method's parameters
};

// CPU time of the whole process (every thread): the work done, which the shared machine's
// load does not stretch the way it stretches wall time.
double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

StatusOr<std::string> ReadFiles(const std::vector<std::string>& paths) {
  std::string all;
  for (const std::string& p : paths) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return Status::NotFound("cannot read " + p);
    std::stringstream ss;
    ss << in.rdbuf();
    all += ss.str();
    all += "\n\n";
  }
  return all;
}

// One runner, one cache big enough for the longest context, one sequence.
class Harness {
 public:
  Harness(const worker::LoadedModel& model, kernels::ThreadPool& pool) : model_(model), pool_(pool) {}

  Status Init(int32_t max_len, const worker::LongContextOptions& method) {
    const model::LlamaConfig& c = model_.weights->config;
    worker::KvCacheOptions k;
    k.num_layers = static_cast<int32_t>(c.num_layers);
    k.num_kv_heads = static_cast<int32_t>(c.num_kv_heads);
    k.head_dim = static_cast<int32_t>(c.head_dim);
    k.block_size = 16;
    k.num_blocks = (max_len + k.block_size - 1) / k.block_size;
    HEARTH_ASSIGN_OR_RETURN(cache_, worker::KvCache::Create(k));
    table_.resize(k.num_blocks);
    for (int32_t b = 0; b < k.num_blocks; ++b) table_[b] = b;
    runner_ = std::make_unique<worker::LlamaRunner>(*model_.weights, *cache_, pool_);
    HEARTH_RETURN_IF_ERROR(runner_->SetLongContext(method));
    logits_.resize(c.vocab_size);
    return Status::Ok();
  }

  // Negative log-likelihood of each of tokens[1..] given the ones before, the whole text one
  // prompt run in chunks. A row sees only its prefix, so the mean over the first n - 1 rows is
  // the perplexity of the first n tokens as a prompt of their own.
  StatusOr<std::vector<double>> Nll(const std::vector<int32_t>& tokens, int32_t chunk) {
    const model::LlamaConfig& c = model_.weights->config;
    const int64_t vocab = c.vocab_size;
    std::vector<float> hidden(static_cast<size_t>(chunk) * c.hidden), logits(static_cast<size_t>(chunk) * vocab);
    std::vector<double> nll;
    forward_s_ = 0;
    forward_cpu_s_ = 0;
    const int64_t len = static_cast<int64_t>(tokens.size());
    for (int64_t p0 = 0; p0 < len; p0 += chunk) {
      const int64_t n = std::min<int64_t>(chunk, len - p0);
      worker::Batch batch;
      worker::BatchSequence s{p0, std::span<const int32_t>(tokens.data() + p0, n), table_, false};
      s.want_hidden = true;
      s.num_prompt_tokens = len;
      batch.seqs.push_back(s);
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = CpuSeconds();
      HEARTH_RETURN_IF_ERROR(runner_->Forward(batch, nullptr, hidden.data()));
      forward_s_ += Seconds(t0);
      forward_cpu_s_ += CpuSeconds() - c0;
      HEARTH_RETURN_IF_ERROR(kernels::MatMul(model_.weights->output, hidden.data(), n, logits.data(), pool_));
      for (int64_t r = 0; r < n && p0 + r + 1 < len; ++r) {
        const float* row = logits.data() + r * vocab;
        const float max = row[kernels::Argmax(row, vocab)];
        double sum = 0;
        for (int64_t v = 0; v < vocab; ++v) sum += std::exp(static_cast<double>(row[v]) - max);
        nll.push_back(std::log(sum) + max - row[tokens[p0 + r + 1]]);
      }
    }
    return nll;
  }

  // Seconds the last Nll spent in Forward: its prefill in chunks, without the logits.
  double forward_seconds() const { return forward_s_; }
  double forward_cpu_seconds() const { return forward_cpu_s_; }

  // Prefills `prompt` in one step (timed), then decodes `steps` greedy tokens (timed).
  struct Run {
    double prefill_s = 0, decode_s = 0;
    double prefill_cpu_s = 0, decode_cpu_s = 0;
    std::vector<int32_t> generated;
  };
  StatusOr<Run> Generate(const std::vector<int32_t>& prompt, int32_t steps) {
    const int64_t vocab = model_.weights->config.vocab_size;
    const int64_t len = static_cast<int64_t>(prompt.size());
    Run out;
    worker::Batch batch;
    worker::BatchSequence s{0, prompt, table_, true};
    s.num_prompt_tokens = len;
    batch.seqs.push_back(s);
    auto t0 = std::chrono::steady_clock::now();
    double c0 = CpuSeconds();
    HEARTH_RETURN_IF_ERROR(runner_->Forward(batch, logits_.data()));
    out.prefill_s = Seconds(t0);
    out.prefill_cpu_s = CpuSeconds() - c0;
    out.generated.push_back(static_cast<int32_t>(kernels::Argmax(logits_.data(), vocab)));
    t0 = std::chrono::steady_clock::now();
    c0 = CpuSeconds();
    for (int32_t i = 1; i < steps; ++i) {
      batch.seqs[0].start_pos = len + i - 1;
      batch.seqs[0].tokens = std::span<const int32_t>(&out.generated.back(), 1);
      HEARTH_RETURN_IF_ERROR(runner_->Forward(batch, logits_.data()));
      out.generated.push_back(static_cast<int32_t>(kernels::Argmax(logits_.data(), vocab)));
    }
    out.decode_s = Seconds(t0);
    out.decode_cpu_s = CpuSeconds() - c0;
    return out;
  }

 private:
  const worker::LoadedModel& model_;
  kernels::ThreadPool& pool_;
  std::unique_ptr<worker::KvCache> cache_;
  std::vector<int32_t> table_;
  std::unique_ptr<worker::LlamaRunner> runner_;
  std::vector<float> logits_;
  double forward_s_ = 0;      // time in Forward during the last Nll
  double forward_cpu_s_ = 0;  // CPU time of the same
};

// The passkey prompt (the template of the passkey tests in the long-context literature): an
// instruction, filler prose with the key's sentence at `depth`, the question, and the answer's
// start. Filler is cut at token granularity so the prompt has exactly `len` tokens.
std::vector<int32_t> PasskeyPrompt(const model::Tokenizer& tok, const std::vector<int32_t>& filler, int32_t len,
                                   double depth, const std::string& key) {
  auto enc = [&](const std::string& t) { return tok.Encode(t, false, false); };
  const std::vector<int32_t> head = enc(
      "There is an important pass key hidden inside a lot of irrelevant text. Find it and memorize it. "
      "I will quiz you about the pass key.\n\n");
  const std::vector<int32_t> needle = enc("\nThe pass key is " + key + ". Remember it. " + key + " is the pass key.\n");
  const std::vector<int32_t> tail = enc("\n\nWhat is the pass key? The pass key is");
  std::vector<int32_t> ids;
  if (tok.add_bos() && tok.bos_id() >= 0) ids.push_back(tok.bos_id());
  ids.insert(ids.end(), head.begin(), head.end());
  const int64_t room = len - static_cast<int64_t>(ids.size() + needle.size() + tail.size());
  CHECK(room > 0 && room <= static_cast<int64_t>(filler.size()));
  const int64_t before = static_cast<int64_t>(room * depth);
  ids.insert(ids.end(), filler.begin(), filler.begin() + before);
  ids.insert(ids.end(), needle.begin(), needle.end());
  ids.insert(ids.end(), filler.begin() + before, filler.begin() + room);
  ids.insert(ids.end(), tail.begin(), tail.end());
  return ids;
}

std::string Fmt(double v, const char* f = "%.4f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

int Run(const Options& o) {
  auto loaded = worker::LoadedModel::Load(o.model_path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "loading %s: %s\n", o.model_path.c_str(), loaded.status().ToString().c_str());
    return 1;
  }
  const worker::LoadedModel& model = **loaded;
  const model::Tokenizer& tok = *model.tokenizer;
  auto ppl_text = ReadFiles(o.ppl_files);
  auto filler_text = ReadFiles(o.filler_files);
  if (!ppl_text.ok() || !filler_text.ok()) {
    std::fprintf(stderr, "%s\n", (ppl_text.ok() ? filler_text.status() : ppl_text.status()).ToString().c_str());
    return 1;
  }
  std::vector<int32_t> corpus;
  if (tok.add_bos() && tok.bos_id() >= 0) corpus.push_back(tok.bos_id());
  const std::vector<int32_t> text = tok.Encode(*ppl_text, false, false);
  corpus.insert(corpus.end(), text.begin(), text.end());
  const std::vector<int32_t> filler = tok.Encode(*filler_text, false, false);

  int32_t max_len = 16;
  for (int32_t n : o.ppl_contexts) max_len = std::max(max_len, n);
  for (int32_t n : o.passkey_contexts) max_len = std::max(max_len, n);
  for (int32_t n : o.speed_contexts) max_len = std::max(max_len, n);
  kernels::ThreadPool pool(o.threads);

  std::string json = "{\"model\":\"" + o.model_path + "\",\"threads\":" + std::to_string(pool.num_threads()) +
                     ",\"corpus_tokens\":" + std::to_string(corpus.size()) +
                     ",\"filler_tokens\":" + std::to_string(filler.size()) +
                     ",\"sample_attention\":{\"segment\":" + std::to_string(o.sample.sample_attention_params.segment) +
                     ",\"alpha\":" + Fmt(o.sample.sample_attention_params.alpha) +
                     ",\"min_position\":" + std::to_string(o.sample.sample_attention_min_position) + "},\"methods\":{";
  for (size_t mi = 0; mi < o.methods.size(); ++mi) {
    const std::string& name = o.methods[mi];
    worker::LongContextOptions method;
    if (name == "sample") {
      method = o.sample;
      method.sample_attention = true;
    } else if (name != "dense") {
      std::fprintf(stderr, "unknown method %s\n", name.c_str());
      return 1;
    }
    Harness h(model, pool);
    if (Status st = h.Init(max_len, method); !st.ok()) {
      std::fprintf(stderr, "%s\n", st.ToString().c_str());
      return 1;
    }
    json += (mi ? "," : "") + std::string("\"") + name + "\":{";
    std::string sections;
    auto has = [&](const char* part) { return std::find(o.parts.begin(), o.parts.end(), part) != o.parts.end(); };
    if (has("ppl")) {
      // One run over the longest context; each shorter one is its prefix.
      const int32_t longest = *std::max_element(o.ppl_contexts.begin(), o.ppl_contexts.end());
      if (longest > static_cast<int32_t>(corpus.size())) {
        std::fprintf(stderr, "the corpus has only %zu tokens\n", corpus.size());
        return 1;
      }
      const auto t0 = std::chrono::steady_clock::now();
      auto nll = h.Nll(std::vector<int32_t>(corpus.begin(), corpus.begin() + longest), o.chunk);
      if (!nll.ok()) {
        std::fprintf(stderr, "%s\n", nll.status().ToString().c_str());
        return 1;
      }
      sections += "\"perplexity_run\":{\"context\":" + std::to_string(longest) + ",\"seconds\":" +
                  Fmt(Seconds(t0), "%.1f") + ",\"chunked_prefill_s\":" + Fmt(h.forward_seconds(), "%.2f") +
                  ",\"chunked_prefill_cpu_s\":" + Fmt(h.forward_cpu_seconds(), "%.2f") + "},\"perplexity\":[";
      for (size_t i = 0; i < o.ppl_contexts.size(); ++i) {
        const int32_t n = o.ppl_contexts[i];
        double sum = 0;
        for (int32_t r = 0; r + 1 < n; ++r) sum += (*nll)[r];
        const double ppl = std::exp(sum / (n - 1));
        sections += (i ? "," : "") + std::string("{\"context\":") + std::to_string(n) + ",\"ppl\":" + Fmt(ppl) + "}";
        std::fprintf(stderr, "%s ppl %d: %.4f\n", name.c_str(), n, ppl);
      }
      std::fprintf(stderr, "%s chunked prefill of %d: %.2f s (cpu %.2f s)\n", name.c_str(), longest, h.forward_seconds(),
                   h.forward_cpu_seconds());
      sections += "]";
    }
    if (has("passkey")) {
      sections += std::string(sections.empty() ? "" : ",") + "\"passkey\":[";
      std::mt19937 rng(1234);
      bool first = true;
      for (int32_t n : o.passkey_contexts) {
        for (double depth : o.passkey_depths) {
          const std::string key = std::to_string(std::uniform_int_distribution<int>(10000, 99999)(rng));
          // The answer's 5 decoded tokens must fit the model's context too.
          const int64_t room = model.weights->config.context_length - 6;
          auto run = h.Generate(PasskeyPrompt(tok, filler, static_cast<int32_t>(std::min<int64_t>(n, room)), depth, key), 6);
          if (!run.ok()) {
            std::fprintf(stderr, "%s\n", run.status().ToString().c_str());
            return 1;
          }
          auto decoded = tok.Decode(run->generated);
          const std::string answer = decoded.ok() ? *decoded : std::string();
          const bool found = answer.find(key) != std::string::npos;
          std::string quoted;
          for (char ch : answer) {
            if (ch == '"' || ch == '\\') quoted += '\\';
            quoted += (ch == '\n' ? ' ' : ch);
          }
          sections += std::string(first ? "" : ",") + "{\"context\":" + std::to_string(n) + ",\"depth\":" +
                      Fmt(depth, "%.2f") + ",\"key\":\"" + key + "\",\"answer\":\"" + quoted +
                      "\",\"found\":" + (found ? "true" : "false") + ",\"prefill_s\":" + Fmt(run->prefill_s, "%.2f") +
                      ",\"prefill_cpu_s\":" + Fmt(run->prefill_cpu_s, "%.2f") +
                      ",\"decode_tok_s\":" + Fmt((run->generated.size() - 1) / run->decode_s, "%.2f") +
                      ",\"decode_cpu_ms_per_tok\":" + Fmt(1e3 * run->decode_cpu_s / (run->generated.size() - 1), "%.1f") + "}";
          first = false;
          std::fprintf(stderr, "%s passkey %d@%.2f: %s -> '%s' prefill %.2f s (cpu %.2f s)\n", name.c_str(), n, depth,
                       key.c_str(), answer.c_str(), run->prefill_s, run->prefill_cpu_s);
        }
      }
      sections += "]";
    }
    if (has("speed")) {
      sections += std::string(sections.empty() ? "" : ",") + "\"speed\":[";
      for (size_t i = 0; i < o.speed_contexts.size(); ++i) {
        const int32_t n = o.speed_contexts[i];
        // The prompt leaves room for the decoded tokens within the model's context.
        const int64_t ctx = model.weights->config.context_length;
        const size_t len = static_cast<size_t>(std::min<int64_t>(n, ctx - o.decode_tokens - 1));
        auto run = h.Generate(std::vector<int32_t>(corpus.begin(), corpus.begin() + std::min(len, corpus.size())),
                              o.decode_tokens + 1);
        if (!run.ok()) {
          std::fprintf(stderr, "%s\n", run.status().ToString().c_str());
          return 1;
        }
        sections += (i ? "," : "") + std::string("{\"context\":") + std::to_string(n) + ",\"prefill_s\":" +
                    Fmt(run->prefill_s, "%.2f") + ",\"prefill_cpu_s\":" + Fmt(run->prefill_cpu_s, "%.2f") +
                    ",\"decode_tok_s\":" + Fmt(o.decode_tokens / run->decode_s, "%.2f") + "}";
        std::fprintf(stderr, "%s speed %d: prefill %.2f s, decode %.2f tok/s\n", name.c_str(), n, run->prefill_s,
                     o.decode_tokens / run->decode_s);
      }
      sections += "]";
    }
    json += sections + "}";
  }
  json += "}}";
  std::printf("%s\n", json.c_str());
  return 0;
}

}  // namespace
}  // namespace hearth::bench

int main(int argc, char** argv) {
  hearth::bench::Options o;
  const char* env = std::getenv("HEARTH_MODEL_PATH");
  o.model_path = env ? env : "/root/.cache/hearth/SmolLM2-135M-Instruct.Q4_1.gguf";
  CLI::App app{"hearth-bench-longctx: perplexity, passkey and speed of long-context attention methods, as JSON"};
  app.add_option("-m,--model", o.model_path, "GGUF model file")->capture_default_str();
  app.add_option("-t,--threads", o.threads, "CPU threads (0: all cores)")->capture_default_str();
  app.add_option("--ppl-contexts", o.ppl_contexts, "perplexity context lengths")->delimiter(',')->capture_default_str();
  app.add_option("--passkey-contexts", o.passkey_contexts, "passkey prompt lengths")->delimiter(',')->capture_default_str();
  app.add_option("--passkey-depths", o.passkey_depths, "where the key sits, 0..1")->delimiter(',')->capture_default_str();
  app.add_option("--speed-contexts", o.speed_contexts, "prompt lengths timed")->delimiter(',')->capture_default_str();
  app.add_option("--decode-tokens", o.decode_tokens, "decode steps timed after each prompt")->check(CLI::Range(1, 4096));
  app.add_option("--methods", o.methods, "dense, sample (SampleAttention)")->delimiter(',')->capture_default_str();
  app.add_option("--parts", o.parts, "ppl, passkey, speed")->delimiter(',')->capture_default_str();
  app.add_option("--sa-segment", o.sample.sample_attention_params.segment, "SampleAttention segment")->capture_default_str();
  app.add_option("--sa-alpha", o.sample.sample_attention_params.alpha, "SampleAttention alpha")->capture_default_str();
  app.add_option("--sa-min-position", o.sample.sample_attention_min_position, "SampleAttention's first position")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return hearth::bench::Run(o);
}
