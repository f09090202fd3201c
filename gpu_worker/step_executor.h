// The worker's side of a step: the models it hosts, each with its own KV cache
// and runner, and the forward-then-sample of one StepRequest. Kept free of the
// socket so tests drive it directly.
//
// Memory (docs/models.md): every warm model's weights and KV cache are regions of one page
// pool, made when the first model loads. A model can also be staged: a host copy of its file,
// kept outside the pool, from which it swaps in at the speed of a memory copy. Loading a model
// that is not staged reads its file (a cold load) on a loader thread, while steps of the other
// models run; swapping a warm model out gives its pages back and keeps (or makes) its staged copy.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/worker_protocol.h"
#include "gpu_worker/background_read.h"
#include "gpu_worker/kv_cache.h"
#include "gpu_worker/llama_runner.h"
#include "gpu_worker/loaded_model.h"
#include "gpu_worker/pooler.h"
#include "gpu_worker/sampler.h"
#include "kernels/cpu/thread_pool.h"
#include "sampling/grammar/compiled_grammar.h"

namespace hearth::worker {

using wire::kDefaultKvCacheBytes;
inline constexpr int32_t kKvBlockSize = 16;

class StepExecutor {
 public:
  // threads: 0 for all cores. default_kv_cache_bytes: used when a
  // LoadModelRequest asks for 0.
  // pool_bytes: the page pool's size (whole wire::kPoolPageBytes pages), its memory made at
  // once; 0: as large as the machine's memory, its pages made as they are first used.
  explicit StepExecutor(int threads = 0, uint64_t default_kv_cache_bytes = kDefaultKvCacheBytes,
                        uint64_t pool_bytes = 0);
  ~StepExecutor();

  // A load in three calls (common/worker_protocol.h), so that steps of the other models run
  // while a model's file is read. BeginLoad: a name already loaded from the same path is finished
  // at once, and so is a swap-in from the model's staged copy (which it keeps; a memory copy);
  // else it maps pool pages for the file (ResourceExhausted when too few are free: nothing
  // changes) and starts reading the file into them on a loader thread (BackgroundRead). Pool
  // changes and the model's registration stay on this (the calling) thread.
  StatusOr<wire::LoadStatus> BeginLoad(const wire::LoadModelRequest& request);
  // The bytes read so far. When the read failed: its error, and the load is over (its pages are
  // back in the pool).
  StatusOr<wire::LoadStatus> PollLoad(const std::string& name);
  // Once PollLoad said finished: parses the file in its pages, builds the weights, the KV cache
  // and the runner, and hosts the model. On an error the load is over and its pages are back.
  StatusOr<wire::ModelInfo> FinishLoad(const std::string& name);
  // BeginLoad, waiting for the read, FinishLoad: for tests and tools that can wait.
  StatusOr<wire::ModelInfo> LoadModel(const wire::LoadModelRequest& request);
  // Makes a model staged: reads its file into host memory, or, when it is warm, swaps it out
  // (its pages go back to the pool; the copy it was swapped in from is kept, else one is
  // copied out of its pages).
  StatusOr<wire::StagedInfo> StageModel(const wire::LoadModelRequest& request);
  // Frees a model's weights, KV cache, runner and staged copy, and ends a load of it in progress
  // (its read stops; its pages go back). A name not hosted is fine (nothing to free): the daemon
  // may unload after a worker restart that never reloaded it.
  void UnloadModel(const std::string& name);

  // Hears the bytes read while a model's file is read (a cold load, or staging): name, done,
  // total. The worker sends them to the daemon as progress frames.
  using Progress = std::function<void(const std::string& name, uint64_t done, uint64_t total)>;
  void set_progress(Progress progress) { progress_ = std::move(progress); }

  // For tests: the pool (null before the first load).
  const PagePool* pool() const { return page_pool_.get(); }
  // For tests: runs on the loader thread after each piece of a load's read (name, done, total),
  // to hold a load in progress or to break its file.
  using ReadObserver = std::function<void(const std::string& name, uint64_t done, uint64_t total)>;
  void set_read_observer(ReadObserver observer) { read_observer_ = std::move(observer); }

  // Forgets the released sequences, brings the others' state up to date (wire::StepSequence: a
  // full state or a delta), runs the batch and samples one token for each sequence that wants
  // logits. InvalidArgument for an unknown model, a malformed sequence, or a delta that does not
  // fit the state held (unknown sequence, other lengths): then nothing runs and no state changes.
  // When the forward pass fails, the step's sequences are forgotten (the daemon ends them).
  StatusOr<wire::StepReply> Step(const wire::StepRequest& request);

  // KV blocks of a hosted model, out and in (wire::KvBlocksRead, wire::KvBlocksWrite): what a
  // request carries to another node instead of recomputing. NotFound for a model not hosted;
  // InvalidArgument for a block out of range, a layout (bytes per block) other than this
  // cache's, or more bytes than one frame holds.
  StatusOr<wire::KvBlocks> ReadKvBlocks(const wire::KvBlocksRead& request) const;
  Status WriteKvBlocks(const wire::KvBlocksWrite& request);

  // For tests: the live sequences held for a model (0 for one not hosted).
  size_t num_sequences(const std::string& model) const;

 private:
  using StagedMap = std::map<std::string, std::unique_ptr<StagedModel>>;
  // What the worker keeps of a live sequence between steps, so steps carry only changes.
  struct SequenceState {
    std::vector<int32_t> block_table;  // [blocks covering the history]
    std::vector<int32_t> history;      // [num_computed] tokens in the KV cache, prompt first
    int32_t num_prompt_tokens = 0;
    SamplingParams sampling;
    // Constrained decoding (sampling.grammar set): the matcher and how many generated tokens
    // it has consumed. A full state (new, recovered or recomputed) starts it again from the
    // history, so the grammar state always follows the committed tokens.
    std::unique_ptr<grammar::GrammarMatcher> grammar;
    size_t grammar_consumed = 0;
    // An embedding sequence (StepSequence::pooling): its pool of the positions run so far.
    std::unique_ptr<Pooler> pooler;
  };
  using SequenceMap = std::unordered_map<uint64_t, SequenceState>;  // by request id
  // A cold load between BeginLoad and FinishLoad.
  struct PendingLoad {
    wire::LoadModelRequest request;
    std::unique_ptr<PagedRegion> region;  // the file's pages; declared first: the read ends before they go
    std::unique_ptr<BackgroundRead> read;
    std::chrono::steady_clock::time_point started;
  };
  struct HostedModel {
    std::unique_ptr<LoadedModel> model;
    std::unique_ptr<PagedRegion> kv_region;  // the cache's memory
    std::unique_ptr<KvCache> cache;
    std::unique_ptr<LlamaRunner> runner;
    wire::ModelInfo info;
    SequenceMap sequences;  // dropped with the model when it is unloaded or swapped out
    std::unique_ptr<grammar::GrammarCache> grammars;  // made at the first constrained step
  };

  Status Validate(const HostedModel& hosted, const wire::StepRequest& request) const;
  static void Apply(const wire::StepSequence& s, SequenceState& state);
  // Compiles (or finds cached) the grammars of the step's full sequences; InvalidArgument for
  // one that does not parse, before anything runs.
  static Status PrepareGrammars(HostedModel& hosted, const wire::StepRequest& request);
  // The mask for `state`'s next token, after its matcher consumed the generated tokens.
  static std::span<const uint64_t> GrammarMask(HostedModel& hosted, SequenceState& state);
  Status EnsurePool();
  // `model` (in pool pages) with a KV cache in pool pages and a runner.
  StatusOr<std::unique_ptr<HostedModel>> Host(const wire::LoadModelRequest& request,
                                              std::unique_ptr<LoadedModel> model);
  // Hosts `model` under request.name and logs it; its ModelInfo.
  StatusOr<wire::ModelInfo> Register(const wire::LoadModelRequest& request, std::unique_ptr<LoadedModel> model,
                                     bool swapped_in, std::chrono::steady_clock::time_point started);

  StagedModel::Progress ProgressFor(const std::string& name) const;
  // The staged copy of request.name, or end(); a copy of another file is dropped.
  StagedMap::iterator FindStaged(const wire::LoadModelRequest& request);

  kernels::ThreadPool pool_;
  Progress progress_;
  const uint64_t default_kv_cache_bytes_;
  const uint64_t pool_bytes_;
  std::unique_ptr<PagePool> page_pool_;  // declared first: models_' regions go back to it
  std::map<std::string, std::unique_ptr<HostedModel>> models_;  // by the daemon's name
  StagedMap staged_;  // by the daemon's name
  std::map<std::string, std::unique_ptr<PendingLoad>> loading_;  // by the daemon's name
  ReadObserver read_observer_;

  // Per-step scratch, reused.
  std::vector<float> logits_;  // [num_logit_rows, vocab_size]
  std::vector<float> hidden_;  // [num_hidden_rows, hidden] the pooled sequences' new rows
  SamplerScratch scratch_;
};

}  // namespace hearth::worker
