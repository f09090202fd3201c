// The engine loop: one thread that owns a BatchScheduler per model hosted on
// one worker and, every iteration, admits new requests, schedules a step,
// runs it on the worker, and turns the sampled tokens into each request's
// events (detokenizing and matching stop strings here, in the daemon).
//
// HTTP threads only touch the queues and the model map under mu_; everything
// else belongs to the loop thread, which is also the only caller of the sinks.
// Models come and go while it runs (AddModel, RemoveModel): the change is a
// command the loop applies between two iterations.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/worker_protocol.h"
#include "daemon/engine/engine.h"
#include "daemon/engine/kv_prefix.h"
#include "daemon/engine/output_decoder.h"
#include "daemon/engine/request_ids.h"
#include "daemon/engine/step_builder.h"
#include "daemon/engine/token_committer.h"
#include "daemon/worker/worker_process.h"
#include "model/tokenizer.h"
#include "scheduler/batch_scheduler.h"
#include "scheduler/clock.h"

namespace hearth::daemon {

struct EngineLoopOptions {
  int32_t token_budget = 512;   // tokens per step (AddModel can set one per model)
  // Tokens per step while nothing decodes (the scheduler's idle_token_budget; never below the
  // model's token_budget): a lone prompt up to this long is one step, not budget-sized chunks.
  int32_t idle_token_budget = 512;
  int32_t max_num_seqs = 64;    // sequences per step and running at once
  bool chunked_prefill = true;  // false: whole prompts first (scheduler::SchedulerConfig)
  size_t max_queued = 4096;    // submitted requests not yet admitted to a scheduler
  // Makes each iteration's tokens and ends durable before they are streamed (must outlive the
  // loop); null: nothing is stored.
  TokenCommitter* committer = nullptr;
  // The allocator of request ids (must outlive the loop); null: the loop's own, from
  // first_request_id.
  RequestIds* ids = nullptr;
  uint64_t first_request_id = 1;
};

class EngineLoop final : public Engine {
 public:
  // `worker` must outlive the loop.
  EngineLoop(WorkerConnection* worker, EngineLoopOptions options = {});
  ~EngineLoop() override;  // Stop()

  // A model the worker has loaded, and its tokenizer. token_budget > 0
  // overrides options.token_budget for this model (the daemon passes the one it
  // measured at load). Before Start() it is added at once; after, between two
  // iterations, and AddModel returns once it is (a step of another model that
  // is running finishes first).
  Status AddModel(const wire::ModelInfo& info, std::shared_ptr<const model::Tokenizer> tokenizer,
                  int32_t token_budget = 0);
  // Takes a model out between two iterations: each of its queued and running
  // requests ends with "error" and `why`. When it returns, no step of the model
  // runs or will run, so the worker may free it. NotFound for an unknown model.
  Status RemoveModel(const std::string& name, const Status& why);
  // Runs `task` with the worker on the loop thread between two iterations (at once before
  // Start(), or when called from the loop thread) and returns its status. The loop is the
  // worker's only client: stages, unloads and profiles reach it this way (LoopWorker).
  Status RunOnWorker(std::function<Status(WorkerConnection&)> task);
  // Loads a model on the worker without holding up the other models' steps: between two
  // iterations the loop begins the load (WorkerConnection::BeginLoad), then polls it between
  // the next ones while it goes on stepping, and finishes it once the file is read. Returns when
  // the load is finished (at once, waiting, before Start() or on the loop thread). Loads run one
  // at a time, in the order they came. Once `cancel` (may be null) is set, the load is given up
  // at the loop's next look at it, begun or not (the worker drops what it read), and ends
  // Unavailable; one that finished first is not undone.
  StatusOr<wire::ModelInfo> LoadOnWorker(const wire::LoadModelRequest& request,
                                         std::shared_ptr<const std::atomic<bool>> cancel = nullptr);
  // The computed full KV blocks of each of `ids` that runs here, its first `max_blocks` at most,
  // read from the worker between two iterations (a node handing requests over sends them
  // along); ids not running here are left out. Unavailable when the worker was replaced.
  StatusOr<std::map<uint64_t, KvPrefix>> ExportKv(const std::vector<uint64_t>& ids, int32_t max_blocks);
  // Puts another node's blocks into the model's prefix cache between two iterations, after the
  // blocks it has already, in as many free blocks as there are; returns how many it wrote. A
  // request for those tokens then finds them cached. NotFound for a model not hosted here;
  // InvalidArgument for another block size or layout.
  StatusOr<int32_t> ImportKv(const KvPrefix& prefix);
  // Tokens per second of the worker's steps that ran 32 tokens or more (mostly prefill): a
  // moving average; 0 until one ran.
  double prefill_tokens_per_second() const { return prefill_tokens_per_second_.load(); }
  // A new request id, above every id this engine or the store handed out (the one allocator).
  uint64_t NewRequestId();

  void Start();
  // Finishes every request still queued or running with "error" (server
  // shutting down) and joins the thread. Later Submits are Unavailable. Safe
  // to call twice.
  void Stop();

  // Engine.
  const model::Tokenizer* tokenizer(const std::string& model) const override;
  int32_t context_length(const std::string& model) const override;
  int32_t embedding_size(const std::string& model) const override;
  StatusOr<uint64_t> Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) override;
  void Cancel(uint64_t id) override;
  EngineStats Stats() const override;
  // The model's stop token ids (EOS, EOT, ...); empty for an unknown model.
  std::vector<int32_t> stop_token_ids(const std::string& model) const;
  // The model's requests not finished: submitted, queued in its scheduler or running (as of
  // the last iteration).
  int64_t NumUnfinished(const std::string& model) const;

 private:
  struct Model {
    wire::ModelInfo info;
    std::shared_ptr<const model::Tokenizer> tokenizer;
    int32_t max_context = 0;                               // min(trained context, KV cache capacity)
    std::unique_ptr<scheduler::BatchScheduler> scheduler;  // loop thread only
    StepBuilder steps;  // loop thread only: what the worker holds of the scheduler's sequences
  };
  // A request from Submit() to its FinishEvent; owned by the loop thread once
  // admitted.
  struct Active {
    uint64_t id = 0;
    std::shared_ptr<Model> model;  // as at Submit: Admit fails it when the model was removed since
    GenerationRequest request;
    std::shared_ptr<RequestSink> sink;
    std::optional<OutputDecoder> output;  // detokenizer and stop strings
    int32_t num_generated = 0;
    int32_t cached_prompt_tokens = 0;   // of the prompt, served by the prefix cache at admission
    int64_t submitted_ns = 0;           // clock_ at Submit()
    int64_t admitted_ns = 0;            // clock_ at Admit(): the scheduler's arrival
    scheduler::RequestTimings timings;  // the scheduler's, once it gives them up
    std::vector<float> embedding;       // an embedding request's vector, from the worker's reply
  };

  // AddModel and RemoveModel after Start(), for the loop thread.
  struct ModelCommand {
    std::optional<wire::LoadModelRequest> load;     // else:
    wire::ModelInfo* loaded = nullptr;              // the load's result, written before `done`
    std::shared_ptr<const std::atomic<bool>> cancel_load;  // set: give the load up
    std::function<Status(WorkerConnection&)> task;  // else a model change:
    std::shared_ptr<Model> add;  // else remove `name`
    std::string name;
    Status why;
    std::promise<Status> done;
  };

  StatusOr<std::shared_ptr<Model>> MakeModel(const wire::ModelInfo& info,
                                             std::shared_ptr<const model::Tokenizer> tokenizer,
                                             int32_t token_budget) const;
  // Runs `command` on the loop thread (or here, before Start()) and waits for it.
  Status Post(std::shared_ptr<ModelCommand> command);
  // The loop thread (or any, before Start()); takes mu_ to change models_.
  Status ApplyCommand(ModelCommand& command);
  void Run();
  // Begins, polls or finishes the first of loads_ (those behind it wait); the loop thread.
  void AdvanceLoads();
  void Admit(std::unique_ptr<Active> active);
  void ApplyCancel(uint64_t id);
  // Schedules and runs one step of `model`; false when it had nothing to run.
  bool StepModel(Model& model);
  void FailStep(Model& model, const scheduler::SchedulerOutput& out, const Status& status);
  // Turns one sampled token into the request's TokenEvent; true when a stop
  // string matched.
  bool Deliver(Active& active, GeneratedToken token);
  // Records, for requests admitted in `out` before their first token, the prompt tokens the
  // prefix cache served (usage.prompt_tokens_details.cached_tokens).
  void NoteCachedPrompt(const scheduler::SchedulerOutput& out);
  // Counts a token event and puts it in the outbox (live and replayed alike).
  void Emit(Active& active, TokenEvent event);
  void Finish(const scheduler::FinishedRequest& finished);
  void FinishActive(uint64_t id, FinishReason reason, const Status& status, const std::string& text);
  void PublishStats();
  // Recovery: replays a request's committed tokens; true when they already finished it.
  bool ReplayCommitted(Active& active);
  // The commit rule: commits this iteration's tokens and ends, then hands the events held in
  // the outbox to the sinks. When the commit fails nothing of it is streamed: every request
  // in it ends with the error.
  void FlushOutbox();
  void FailUncommitted(const Status& status);
  // The worker was replaced (worker_supervisor.h) and every KV cache with it: each request
  // goes back to its scheduler with its tokens so far, to be computed again.
  void RecomputeAfterWorkerRestart();

  // Constant after construction.
  WorkerConnection* const worker_;
  const EngineLoopOptions options_;
  RequestIds own_ids_;     // when options_.ids is null
  RequestIds* const ids_;  // options_.ids or &own_ids_
  scheduler::SteadyClock clock_;

  // Changed only under mu_, and after Start() only by the loop thread, which
  // reads it without the lock; other threads read it under mu_.
  std::map<std::string, std::shared_ptr<Model>> models_;

  // Loop thread only.
  std::unordered_map<uint64_t, std::unique_ptr<Active>> active_;
  int64_t tokens_generated_ = 0;
  std::map<std::string, int64_t> tokens_generated_by_model_;  // kept when a model is removed
  // Events of this iteration, waiting for FlushOutbox.
  struct Outgoing {
    uint64_t id = 0;
    std::shared_ptr<RequestSink> sink;
    std::optional<TokenEvent> token;  // else `finish`
    FinishEvent finish;
  };
  std::vector<Outgoing> outbox_;
  std::vector<TokenRecord> commit_tokens_;
  std::vector<EndRecord> commit_ends_;
  bool shutting_down_ = false;  // ends from here on are not recorded: a restart resumes them
  // Loads in order; the first is begun when load_begun_, and polled again at next_load_poll_.
  std::deque<std::shared_ptr<ModelCommand>> loads_;
  bool load_begun_ = false;
  std::chrono::steady_clock::time_point next_load_poll_;
  uint64_t worker_generation_ = 0;  // worker_->generation() the KV caches belong to
  // Where the loop's time goes (logged at Stop): waiting for the worker's
  // Step versus the daemon's own work around it (schedule, build the request,
  // check the reply, detokenize, deliver). docs/engine.md uses the ratio to
  // explain why steps are not overlapped.
  int64_t num_steps_ = 0;
  double worker_seconds_ = 0;
  double host_seconds_ = 0;
  double commit_seconds_ = 0;  // committing tokens before they are delivered
  int64_t num_commits_ = 0;
  std::atomic<double> prefill_tokens_per_second_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Active>> submitted_;  // GUARDED_BY(mu_)
  std::vector<uint64_t> cancelled_;                // GUARDED_BY(mu_)
  std::deque<std::shared_ptr<ModelCommand>> commands_;  // GUARDED_BY(mu_)
  // Tokenizers of removed models: tokenizer() handed out pointers to them.
  std::vector<std::shared_ptr<const model::Tokenizer>> retired_tokenizers_;  // GUARDED_BY(mu_)
  bool started_ = false;                           // GUARDED_BY(mu_)
  bool stopping_ = false;                          // GUARDED_BY(mu_)
  EngineStats stats_;                              // GUARDED_BY(mu_), published by the loop
  std::map<std::string, int64_t> unfinished_;      // GUARDED_BY(mu_), published by the loop
  std::thread thread_;
};

}  // namespace hearth::daemon
