// hearth-bench-engine: end-to-end CPU throughput of the forward pass on a
// model file: prompt processing (one prefill), single-stream decode and
// aggregate decode of several sequences batched together. Prints JSON on
// stdout; bench/engine/run.py runs it beside llama.cpp on the same tokens.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "common/check.h"
#include "common/status.h"
#include "bench/engine/read_bandwidth.h"
#include "gpu_worker/batch.h"
#include "gpu_worker/kv_cache.h"
#include "gpu_worker/llama_runner.h"
#include "gpu_worker/loaded_model.h"
#include "gpu_worker/page_pool.h"
#include "gpu_worker/step_profile.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/thread_pool.h"

namespace hearth::bench {
namespace {

struct Options {
  std::string model_path;
  int threads = 0;                  // 0: one per hardware thread
  int32_t prompt_tokens = 512;      // prefill length
  int32_t gen_tokens = 128;         // decode steps per measurement
  int32_t decode_prompt_tokens = 32;  // the short prompt before decoding
  std::vector<int32_t> concurrency = {1, 4, 16};
  int repeats = 3;
  bool tokens_only = false;
  // Weights and KV cache in the worker's page pool (as hearthd serves them), instead of the
  // file's mapping and a malloc'd cache.
  bool pool = false;
  // Also decode one stream after a prompt this long (0: not), where attention starts to count.
  int32_t long_context = 0;
  // Also time every op of single-stream decode, and the thread pool's waits.
  bool profile = false;
  // Also measure the memory read bandwidth and the decode roofline.
  bool bandwidth = true;
};

// Fixed English text; its ids are cycled to any length, so every run (and
// llama.cpp, which gets the ids from our JSON) sees the same tokens.
constexpr const char* kText =
    "The old lighthouse keeper climbed the spiral stairs every evening at dusk, counting the "
    "one hundred and twelve steps as his father had before him. From the lamp room he could see "
    "the fishing boats returning to the harbour, their lights bobbing on the grey water, and the "
    "gulls wheeling above the cliffs. He wrote the weather in a leather book: wind from the west, "
    "a falling glass, rain before midnight. ";

std::vector<int32_t> BenchTokens(const model::Tokenizer& tok, int32_t n) {
  const std::vector<int32_t> text = tok.Encode(kText, /*add_special=*/false, /*parse_special=*/false);
  CHECK(!text.empty());
  std::vector<int32_t> ids;
  if (tok.add_bos() && tok.bos_id() >= 0) ids.push_back(tok.bos_id());
  for (size_t i = 0; static_cast<int32_t>(ids.size()) < n; ++i) ids.push_back(text[i % text.size()]);
  return ids;
}

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// One runner over one KV cache in which sequence s owns the blocks
// [s * blocks_per_seq, (s + 1) * blocks_per_seq).
class EngineBench {
 public:
  EngineBench(const worker::LoadedModel& model, kernels::ThreadPool& pool, const Options& o,
              worker::PagePool* page_pool)
      : model_(model), pool_(pool), o_(o), page_pool_(page_pool) {}

  Status Init(int32_t max_seqs) {
    const model::LlamaConfig& c = model_.weights->config;
    worker::KvCacheOptions k;
    k.num_layers = static_cast<int32_t>(c.num_layers);
    k.num_kv_heads = static_cast<int32_t>(c.num_kv_heads);
    k.head_dim = static_cast<int32_t>(c.head_dim);
    k.block_size = 16;
    const int32_t max_len = std::max({o_.prompt_tokens, o_.decode_prompt_tokens + o_.gen_tokens + 1,
                                      o_.long_context + o_.gen_tokens + 1});
    blocks_per_seq_ = (max_len + k.block_size - 1) / k.block_size;
    k.num_blocks = blocks_per_seq_ * max_seqs;
    if (page_pool_) {
      HEARTH_ASSIGN_OR_RETURN(kv_region_, page_pool_->Map(worker::KvCache::NumBytes(k), /*populate=*/false));
      HEARTH_ASSIGN_OR_RETURN(cache_, worker::KvCache::CreateIn(k, kv_region_->data()));
    } else {
      HEARTH_ASSIGN_OR_RETURN(cache_, worker::KvCache::Create(k));
    }
    block_tables_.resize(max_seqs);
    for (int32_t s = 0; s < max_seqs; ++s) {
      for (int32_t b = 0; b < blocks_per_seq_; ++b) block_tables_[s].push_back(s * blocks_per_seq_ + b);
    }
    runner_ = std::make_unique<worker::LlamaRunner>(*model_.weights, *cache_, pool_);
    logits_.resize(static_cast<size_t>(max_seqs) * c.vocab_size);
    return Status::Ok();
  }

  worker::LlamaRunner& runner() { return *runner_; }

  // Seconds for one Forward over the whole prompt, from an empty sequence.
  StatusOr<double> Prefill(const std::vector<int32_t>& prompt) {
    worker::Batch batch;
    batch.seqs.push_back({0, prompt, block_tables_[0], true});
    const auto t0 = std::chrono::steady_clock::now();
    HEARTH_RETURN_IF_ERROR(runner_->Forward(batch, logits_.data()));
    return Seconds(t0);
  }

  // Prefills `prompts` (one per sequence, untimed), then runs `steps` greedy
  // decode steps, each one Batch with one token per sequence. Returns the
  // seconds the decode steps took.
  StatusOr<double> Decode(const std::vector<std::vector<int32_t>>& prompts, int32_t steps) {
    const int64_t vocab = model_.weights->config.vocab_size;
    const size_t n = prompts.size();
    worker::Batch batch;
    for (size_t s = 0; s < n; ++s) batch.seqs.push_back({0, prompts[s], block_tables_[s], true});
    HEARTH_RETURN_IF_ERROR(runner_->Forward(batch, logits_.data()));
    std::vector<int32_t> next(n);
    auto pick = [&] {
      for (size_t s = 0; s < n; ++s) next[s] = static_cast<int32_t>(kernels::Argmax(logits_.data() + s * vocab, vocab));
    };
    pick();
    const auto t0 = std::chrono::steady_clock::now();
    for (int32_t i = 0; i < steps; ++i) {
      for (size_t s = 0; s < n; ++s) {
        batch.seqs[s] = {static_cast<int64_t>(prompts[s].size()) + i, std::span<const int32_t>(&next[s], 1),
                         block_tables_[s], true};
      }
      HEARTH_RETURN_IF_ERROR(runner_->Forward(batch, logits_.data()));
      pick();
    }
    return Seconds(t0);
  }

 private:
  const worker::LoadedModel& model_;
  kernels::ThreadPool& pool_;
  const Options& o_;
  worker::PagePool* const page_pool_;  // null: the cache is malloc'd
  std::unique_ptr<worker::PagedRegion> kv_region_;
  int32_t blocks_per_seq_ = 0;
  std::unique_ptr<worker::KvCache> cache_;
  std::unique_ptr<worker::LlamaRunner> runner_;
  std::vector<std::vector<int32_t>> block_tables_;  // [max_seqs][blocks_per_seq]
  std::vector<float> logits_;                       // [max_seqs, vocab]
};

std::string JsonInts(const std::vector<int32_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

std::string JsonDoubles(const std::vector<double>& v) {
  std::string s = "[";
  char buf[32];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%.2f", i ? "," : "", v[i]);
    s += buf;
  }
  return s + "]";
}

std::string JsonString(const std::string& v) {
  std::string s = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') s += '\\';
    s += c;
  }
  return s + "\"";
}

// The short prompt of decode sequence s: the bench tokens rotated by s, so
// the sequences differ.
std::vector<int32_t> DecodePrompt(const std::vector<int32_t>& tokens, int32_t len, int32_t s) {
  std::vector<int32_t> p(tokens.begin(), tokens.begin() + len);
  if (s > 0) std::rotate(p.begin(), p.begin() + (s * 7) % len, p.end());
  return p;
}

// Bytes a single-stream decode step reads from the weights: every matrix once, one embedding row
// and the norm vectors.
uint64_t WeightBytesPerToken(const worker::LlamaWeights& w) {
  auto bytes = [](const kernels::WeightView& v) { return static_cast<uint64_t>(v.rows) * v.row_bytes; };
  const uint64_t hidden = w.config.hidden;
  uint64_t total = w.token_embd.row_bytes + bytes(w.output) + hidden * sizeof(float);
  for (const worker::LayerWeights& l : w.layers) {
    total += bytes(l.wq) + bytes(l.wk) + bytes(l.wv) + bytes(l.wo) + bytes(l.w_gate) + bytes(l.w_up) +
             bytes(l.w_down) + 2 * hidden * sizeof(float);
  }
  return total;
}

// Single-stream decode with every op timed: milliseconds per token per op, the pool's
// parallel-fors per token and the caller's wait in them, as a JSON member.
StatusOr<std::string> ProfileDecode(EngineBench& bench, kernels::ThreadPool& pool,
                                    const std::vector<int32_t>& prompt, int32_t steps) {
  worker::StepProfile profile;
  HEARTH_RETURN_IF_ERROR(bench.Decode({prompt}, 1).status());  // prefill outside the profile
  bench.runner().set_profile(&profile);
  pool.ResetStats();
  pool.set_collect_stats(true);
  StatusOr<double> seconds = bench.Decode({prompt}, steps);
  pool.set_collect_stats(false);
  bench.runner().set_profile(nullptr);
  HEARTH_RETURN_IF_ERROR(seconds.status());
  // Decode() runs the prompt once before its timed steps: leave that forward's share out by
  // scaling to the timed steps only (the ops' sums include it).
  const double forwards = static_cast<double>(profile.num_forwards);
  std::string s = ",\"profile\":{\"ms_per_token\":{";
  char buf[96];
  double sum = 0;
  for (int op = 0; op < worker::kNumStepOps; ++op) {
    const double ms = static_cast<double>(profile.ns[op]) / 1e6 / forwards;
    sum += ms;
    std::snprintf(buf, sizeof buf, "%s\"%s\":%.4f", op ? "," : "", worker::StepOpName(static_cast<worker::StepOp>(op)),
                  ms);
    s += buf;
  }
  std::snprintf(buf, sizeof buf, "},\"ops_ms_per_token\":%.4f,\"step_ms\":%.4f,", sum, *seconds * 1e3 / steps);
  s += buf;
  std::snprintf(buf, sizeof buf, "\"pool_runs_per_token\":%.1f,\"pool_wait_ms_per_token\":%.4f}",
                static_cast<double>(pool.stats().num_runs) / forwards,
                static_cast<double>(pool.stats().wait_ns) / 1e6 / forwards);
  return s + buf;
}

int Run(const Options& o) {
  std::unique_ptr<worker::PagePool> page_pool;
  if (o.pool) {  // as the worker without a budget: pages made as they are first used
    auto made = worker::PagePool::Create(16384, 2u << 20, /*prefault=*/false);
    if (!made.ok()) {
      std::fprintf(stderr, "%s\n", made.status().ToString().c_str());
      return 1;
    }
    page_pool = std::move(made).value();
  }
  auto loaded = o.pool ? worker::LoadedModel::ReadIn(o.model_path, *page_pool) : worker::LoadedModel::Load(o.model_path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "loading %s: %s\n", o.model_path.c_str(), loaded.status().ToString().c_str());
    return 1;
  }
  const worker::LoadedModel& model = **loaded;
  const int32_t n_tokens = std::max({o.prompt_tokens, o.decode_prompt_tokens, o.long_context});
  const std::vector<int32_t> tokens = BenchTokens(*model.tokenizer, n_tokens);
  const std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + o.prompt_tokens);
  const std::vector<int32_t> decode_prompt = DecodePrompt(tokens, o.decode_prompt_tokens, 0);
  const std::vector<int32_t> long_prompt(tokens.begin(), tokens.begin() + o.long_context);
  std::string tokens_json = "{\"prompt\":" + JsonInts(prompt) + ",\"decode_prompt\":" + JsonInts(decode_prompt);
  if (o.long_context > 0) tokens_json += ",\"long_prompt\":" + JsonInts(long_prompt);
  tokens_json += "}";
  if (o.tokens_only) {
    std::printf("{\"tokens\":%s}\n", tokens_json.c_str());
    return 0;
  }

  std::vector<int32_t> concurrency = o.concurrency;
  if (std::find(concurrency.begin(), concurrency.end(), 1) == concurrency.end()) concurrency.insert(concurrency.begin(), 1);
  const int32_t max_seqs = *std::max_element(concurrency.begin(), concurrency.end());
  kernels::ThreadPool pool(o.threads);
  EngineBench bench(model, pool, o, page_pool.get());
  if (Status st = bench.Init(max_seqs); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 1;
  }
  std::vector<std::vector<std::vector<int32_t>>> prompts(concurrency.size());
  for (size_t i = 0; i < concurrency.size(); ++i) {
    for (int32_t s = 0; s < concurrency[i]; ++s) prompts[i].push_back(DecodePrompt(tokens, o.decode_prompt_tokens, s));
  }

  // Warm-up: touch the weights, grow the scratch buffers, wake the pool.
  if (!bench.Prefill(prompt).ok() || !bench.Decode(prompts.back(), 8).ok()) {
    std::fprintf(stderr, "warm-up failed\n");
    return 1;
  }

  // Repeats interleave the measurements so slow phases of the machine spread
  // over all of them.
  std::vector<double> prefill_tok_s;
  std::vector<std::vector<double>> decode_tok_s(concurrency.size());
  std::vector<double> long_tok_s;
  for (int r = 0; r < o.repeats; ++r) {
    StatusOr<double> t = bench.Prefill(prompt);
    if (!t.ok()) {
      std::fprintf(stderr, "prefill: %s\n", t.status().ToString().c_str());
      return 1;
    }
    prefill_tok_s.push_back(o.prompt_tokens / *t);
    for (size_t i = 0; i < concurrency.size(); ++i) {
      StatusOr<double> d = bench.Decode(prompts[i], o.gen_tokens);
      if (!d.ok()) {
        std::fprintf(stderr, "decode: %s\n", d.status().ToString().c_str());
        return 1;
      }
      decode_tok_s[i].push_back(static_cast<double>(concurrency[i]) * o.gen_tokens / *d);
    }
    if (o.long_context > 0) {
      StatusOr<double> d = bench.Decode({long_prompt}, o.gen_tokens);
      if (!d.ok()) {
        std::fprintf(stderr, "long decode: %s\n", d.status().ToString().c_str());
        return 1;
      }
      long_tok_s.push_back(o.gen_tokens / *d);
    }
  }

  // After the timed runs, so the clocks it reads cannot slow them.
  std::string profile_json;
  if (o.profile) {
    StatusOr<std::string> p = ProfileDecode(bench, pool, decode_prompt, o.gen_tokens);
    if (!p.ok()) {
      std::fprintf(stderr, "profile: %s\n", p.status().ToString().c_str());
      return 1;
    }
    profile_json = *p;
  }
  std::string roofline_json;
  if (o.bandwidth) {
    const size_t one = std::find(concurrency.begin(), concurrency.end(), 1) - concurrency.begin();
    const double bw = MeasureReadBandwidth(pool);
    const uint64_t bytes = WeightBytesPerToken(*model.weights);
    const double roof_tok_s = bw / static_cast<double>(bytes);
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  ",\"memory_read_gb_s\":%.2f,\"weight_bytes_per_token\":%llu,\"roofline_tok_s\":%.2f,"
                  "\"decode_1_of_roofline\":%.3f",
                  bw / 1e9, static_cast<unsigned long long>(bytes), roof_tok_s, Median(decode_tok_s[one]) / roof_tok_s);
    roofline_json = buf;
  }

  std::printf("{\"engine\":\"hearth\",\"memory\":\"%s\",\"model\":%s,\"threads\":%d,\"prompt_tokens\":%d,"
              "\"gen_tokens\":%d,",
              o.pool ? "pool" : "mapped", JsonString(o.model_path).c_str(), pool.num_threads(), o.prompt_tokens,
              o.gen_tokens);
  std::printf("\"decode_prompt_tokens\":%d,\"repeats\":%d,\"statistic\":\"median\",", o.decode_prompt_tokens,
              o.repeats);
  std::printf("\"prefill\":{\"tok_s\":%.2f,\"samples_tok_s\":%s},\"decode\":[", Median(prefill_tok_s),
              JsonDoubles(prefill_tok_s).c_str());
  for (size_t i = 0; i < concurrency.size(); ++i) {
    std::printf("%s{\"concurrency\":%d,\"tok_s\":%.2f,\"samples_tok_s\":%s}", i ? "," : "", concurrency[i],
                Median(decode_tok_s[i]), JsonDoubles(decode_tok_s[i]).c_str());
  }
  std::printf("]");
  if (o.long_context > 0) {
    std::printf(",\"long_decode\":{\"context\":%d,\"tok_s\":%.2f,\"samples_tok_s\":%s}", o.long_context,
                Median(long_tok_s), JsonDoubles(long_tok_s).c_str());
  }
  std::printf("%s%s,\"tokens\":%s}\n", roofline_json.c_str(), profile_json.c_str(), tokens_json.c_str());
  return 0;
}

std::string DefaultModelPath() {
  if (const char* p = std::getenv("HEARTH_MODEL_PATH"); p && *p) return p;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/hearth/SmolLM2-135M-Instruct.Q4_1.gguf";
}

}  // namespace
}  // namespace hearth::bench

int main(int argc, char** argv) {
  using hearth::bench::Options;
  Options o;
  o.model_path = hearth::bench::DefaultModelPath();
  CLI::App app{"hearth-bench-engine: prefill and decode tok/s of a model file on the CPU, as JSON"};
  app.add_option("-m,--model", o.model_path, "GGUF model file ($HEARTH_MODEL_PATH or the SmolLM2 cache)")
      ->capture_default_str();
  app.add_option("-t,--threads", o.threads, "CPU threads (0: all cores)")->capture_default_str();
  app.add_option("--prompt-tokens", o.prompt_tokens, "tokens prefilled in one forward pass")
      ->capture_default_str()->check(CLI::Range(1, 1 << 16));
  app.add_option("--gen-tokens", o.gen_tokens, "greedy decode steps per measurement")
      ->capture_default_str()->check(CLI::Range(1, 1 << 16));
  app.add_option("--decode-prompt-tokens", o.decode_prompt_tokens, "length of the short prompt before decoding")
      ->capture_default_str()->check(CLI::Range(1, 1 << 16));
  app.add_option("--concurrency", o.concurrency, "concurrent sequences to decode, comma-separated (1 always runs)")
      ->delimiter(',')->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--repeats", o.repeats, "measured repeats after one warm-up; the median is reported")
      ->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--long-context", o.long_context, "also decode one stream after a prompt this long (0: not)")
      ->capture_default_str()->check(CLI::Range(0, 1 << 16));
  app.add_flag("--profile", o.profile, "also time each op of single-stream decode and the thread pool's waits");
  app.add_flag("!--no-bandwidth", o.bandwidth, "skip the memory bandwidth and roofline figures");
  app.add_flag("--tokens-only", o.tokens_only, "print only the benchmark's token ids and exit");
  app.add_flag("--pool", o.pool,
               "weights and KV cache in a page pool, as hearthd serves them (default: the file mapped, the cache "
               "malloc'd)");
  CLI11_PARSE(app, argc, argv);
  return hearth::bench::Run(o);
}
