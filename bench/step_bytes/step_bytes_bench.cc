// hearth-bench-step-bytes: the bytes each step puts on the worker socket. Drives the engine loop
// (16 concurrent streams x 1,000 generated tokens by default) on a random-weight model, with an
// in-process worker that encodes every StepRequest as the socket would carry it, decodes it and
// runs it. Counts each frame (5-byte header + payload) as sent (sequences as changes) and as the
// protocol before it would have sent it (every sequence's whole block table each step, and its
// whole prompt and generated history when a penalty is on). Prints JSON on stdout.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>

#include "daemon/engine/engine_loop.h"
#include "gpu_worker/step_executor.h"
#include "model/tokenizer_gguf.h"
#include "tools/random_model.h"

namespace hearth::bench {
namespace {

constexpr size_t kFrameHeaderBytes = 5;  // u32 length + u8 type

struct ByteCounts {
  std::vector<size_t> sent;    // frame bytes per step, as sent
  std::vector<size_t> before;  // the same step in the earlier full-state encoding
};

// The earlier encoding (every step full: id, start, tokens, whole table, want_logits, sampling,
// position, prompt and generated tokens when a penalty is on and the step samples).
class FullStateSize {
 public:
  size_t Of(const wire::StepRequest& req) {
    size_t bytes = 4 + req.model.size() + 4;
    for (const wire::StepSequence& s : req.seqs) {
      if (s.full) kept_[s.request_id] = {s.num_prompt_tokens, s.sampling};
      const Kept& k = kept_.at(s.request_id);
      const size_t num_blocks = s.full ? s.block_table.size() : static_cast<size_t>(s.num_blocks_after);
      const bool penalty = k.sampling.repetition_penalty != 1.0f || k.sampling.frequency_penalty != 0.0f ||
                           k.sampling.presence_penalty != 0.0f;
      const size_t history = s.want_logits && penalty ? static_cast<size_t>(s.start_pos) + s.tokens.size() : 0;
      bytes += 8 + 4 + (4 + 4 * s.tokens.size()) + (4 + 4 * num_blocks) + 1 + 40 + 8 + (4 + 4) + 4 * history;
    }
    for (uint64_t id : req.released) kept_.erase(id);
    return bytes;
  }

 private:
  struct Kept {
    int32_t num_prompt_tokens;
    SamplingParams sampling;
  };
  std::map<uint64_t, Kept> kept_;
};

// A worker in this process that sees exactly the bytes the socket would carry.
class CountingWorker : public daemon::WorkerConnection {
 public:
  StatusOr<wire::ModelInfo> LoadModel(const wire::LoadModelRequest& request) override {
    return executor_.LoadModel(request);
  }
  StatusOr<wire::StepReply> Step(const wire::StepRequest& request) override {
    const std::vector<uint8_t> payload = wire::EncodeStep(request);
    counts_.sent.push_back(kFrameHeaderBytes + payload.size());
    counts_.before.push_back(kFrameHeaderBytes + full_.Of(request));
    HEARTH_ASSIGN_OR_RETURN(wire::StepRequest decoded, wire::DecodeStep(payload));
    return executor_.Step(decoded);
  }
  const ByteCounts& counts() const { return counts_; }

 private:
  worker::StepExecutor executor_{0};
  FullStateSize full_;
  ByteCounts counts_;
};

class CountingSink : public daemon::RequestSink {
 public:
  void OnToken(const daemon::TokenEvent&) override {}
  void OnFinish(const daemon::FinishEvent& event) override {
    std::lock_guard<std::mutex> lock(mu_);
    finish_ = event;
    done_ = true;
    cv_.notify_all();
  }
  daemon::FinishEvent Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return finish_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  daemon::FinishEvent finish_;
};

struct Options {
  int32_t streams = 16;
  int32_t tokens = 1000;
  int32_t prompt = 32;
  uint64_t seed = 1;
};

std::string Summary(const char* name, const std::vector<size_t>& bytes) {
  size_t total = 0, max = 0;
  for (size_t b : bytes) {
    total += b;
    max = std::max(max, b);
  }
  const double mean = bytes.empty() ? 0 : static_cast<double>(total) / static_cast<double>(bytes.size());
  char buf[200];
  std::snprintf(buf, sizeof(buf), "\"%s\": {\"mean_bytes\": %.1f, \"max_bytes\": %zu, \"total_mb\": %.3f}", name, mean,
                max, static_cast<double>(total) / 1e6);
  return buf;
}

// One run: `streams` requests submitted together, each generating exactly `tokens` tokens.
StatusOr<std::string> Run(const std::string& path, const Options& o, float repetition_penalty) {
  CountingWorker worker;
  // Room for every stream's whole context, so nothing is preempted.
  const uint64_t kv_bytes = 64ull << 20;
  HEARTH_ASSIGN_OR_RETURN(wire::ModelInfo info, worker.LoadModel({"rand", path, kv_bytes}));
  info.eos_token_ids.clear();  // random weights: no early end, every stream makes all its tokens
  HEARTH_ASSIGN_OR_RETURN(std::unique_ptr<model::Tokenizer> tok, model::LoadTokenizerFromGguf(path));
  daemon::EngineLoop loop(&worker);
  HEARTH_RETURN_IF_ERROR(loop.AddModel(info, std::move(tok)));
  loop.Start();
  std::vector<std::shared_ptr<CountingSink>> sinks;
  for (int32_t s = 0; s < o.streams; ++s) {
    daemon::GenerationRequest r;
    r.model = "rand";
    for (int32_t i = 0; i < o.prompt; ++i) r.prompt.push_back(3 + (i * 31 + s * 7) % 200);
    r.max_tokens = o.tokens;
    r.sampling.temperature = 0.8f;
    r.sampling.seed = o.seed + static_cast<uint64_t>(s);
    r.sampling.repetition_penalty = repetition_penalty;
    sinks.push_back(std::make_shared<CountingSink>());
    HEARTH_RETURN_IF_ERROR(loop.Submit(std::move(r), sinks.back()).status());
  }
  int64_t generated = 0;
  for (auto& sink : sinks) {
    daemon::FinishEvent f = sink->Wait();
    if (!f.status.ok()) return f.status;
    generated += f.completion_tokens;
  }
  loop.Stop();
  const ByteCounts& c = worker.counts();
  char head[200];
  std::snprintf(head, sizeof(head), "{\"repetition_penalty\": %.2f, \"steps\": %zu, \"generated_tokens\": %lld, ",
                static_cast<double>(repetition_penalty), c.sent.size(), static_cast<long long>(generated));
  return std::string(head) + Summary("before", c.before) + ", " + Summary("after", c.sent) + "}";
}

}  // namespace
}  // namespace hearth::bench

int main(int argc, char** argv) {
  using namespace hearth;
  bench::Options o;
  CLI::App app{"Bytes per step on the worker socket: sequences as changes against the full-state encoding"};
  app.add_option("--streams", o.streams, "concurrent requests")->check(CLI::Range(1, 64));
  app.add_option("--tokens", o.tokens, "tokens each request generates")->check(CLI::Range(1, 4000));
  app.add_option("--prompt", o.prompt, "prompt tokens of each request")->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);

  tools::RandomModelOptions m;
  m.ctx = static_cast<uint32_t>(o.prompt + o.tokens + 16);
  m.seed = 3;
  m.out =
      (std::filesystem::temp_directory_path() / ("hearth-step-bytes-" + std::to_string(::getpid()) + ".gguf")).string();
  if (Status st = tools::WriteRandomModel(m); !st.ok()) {
    std::fprintf(stderr, "random model: %s\n", st.ToString().c_str());
    return 1;
  }
  std::string out = "{\"streams\": " + std::to_string(o.streams) + ", \"tokens\": " + std::to_string(o.tokens) +
                    ", \"prompt\": " + std::to_string(o.prompt) + ", \"runs\": [";
  int rc = 0;
  for (float penalty : {1.0f, 1.1f}) {
    StatusOr<std::string> run = bench::Run(m.out, o, penalty);
    if (!run.ok()) {
      std::fprintf(stderr, "run: %s\n", run.status().ToString().c_str());
      rc = 1;
      break;
    }
    out += (penalty == 1.0f ? "" : ", ") + *run;
  }
  std::filesystem::remove(m.out);
  if (rc == 0) std::printf("%s]}\n", out.c_str());
  return rc;
}
