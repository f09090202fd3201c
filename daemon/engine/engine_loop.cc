#include "daemon/engine/engine_loop.h"

#include <algorithm>
#include <chrono>

#include "common/log.h"

namespace hearth::daemon {
namespace {

FinishReason ReasonOf(scheduler::FinishReason reason) {
  switch (reason) {
    case scheduler::FinishReason::kEos:
    case scheduler::FinishReason::kStop:
      return FinishReason::kStop;
    case scheduler::FinishReason::kMaxTokens:
      return FinishReason::kLength;
    case scheduler::FinishReason::kError:
      return FinishReason::kError;
  }
  return FinishReason::kError;
}

// The scheduler times from its own arrival (Admit); the client waits from Submit.
RequestLatency ToLatency(const scheduler::RequestTimings& t, int64_t submitted_ns, int64_t admitted_ns,
                         int64_t now_ns) {
  auto seconds = [](int64_t ns) { return 1e-9 * static_cast<double>(ns); };
  const int64_t waited = admitted_ns - submitted_ns;
  RequestLatency l;
  if (t.queue_ns >= 0) l.queue_s = seconds(waited + t.queue_ns);
  if (t.time_to_first_token_ns >= 0) l.time_to_first_token_s = seconds(waited + t.time_to_first_token_ns);
  if (t.time_per_output_token_ns >= 0) l.time_per_output_token_s = seconds(t.time_per_output_token_ns);
  l.end_to_end_s = seconds(now_ns - submitted_ns);
  return l;
}

}  // namespace

EngineLoop::EngineLoop(WorkerConnection* worker, EngineLoopOptions options)
    : worker_(worker),
      options_(options),
      own_ids_(options.first_request_id),
      ids_(options.ids ? options.ids : &own_ids_) {}

EngineLoop::~EngineLoop() { Stop(); }

Status EngineLoop::AddModel(const wire::ModelInfo& info, std::shared_ptr<const model::Tokenizer> tokenizer,
                            int32_t token_budget) {
  auto command = std::make_shared<ModelCommand>();
  HEARTH_ASSIGN_OR_RETURN(command->add, MakeModel(info, std::move(tokenizer), token_budget));
  command->name = info.name;
  return Post(std::move(command));
}

Status EngineLoop::RemoveModel(const std::string& name, const Status& why) {
  auto command = std::make_shared<ModelCommand>();
  command->name = name;
  command->why = why;
  return Post(std::move(command));
}

Status EngineLoop::Post(std::shared_ptr<ModelCommand> command) {
  std::future<Status> done = command->done.get_future();
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) return Status::Unavailable("the engine is stopping");
    if (started_ && std::this_thread::get_id() != thread_.get_id()) {
      commands_.push_back(command);
    } else {
      lock.unlock();
      return ApplyCommand(*command);
    }
  }
  cv_.notify_all();
  return done.get();
}

Status EngineLoop::RunOnWorker(std::function<Status(WorkerConnection&)> task) {
  auto command = std::make_shared<ModelCommand>();
  command->task = std::move(task);
  return Post(std::move(command));
}

StatusOr<wire::ModelInfo> EngineLoop::LoadOnWorker(const wire::LoadModelRequest& request,
                                                   std::shared_ptr<const std::atomic<bool>> cancel) {
  auto command = std::make_shared<ModelCommand>();
  wire::ModelInfo info;
  command->load = request;
  command->loaded = &info;
  command->cancel_load = std::move(cancel);
  if (command->cancel_load && command->cancel_load->load()) return Status::Unavailable("the load was cancelled");
  HEARTH_RETURN_IF_ERROR(Post(std::move(command)));
  return info;
}

uint64_t EngineLoop::NewRequestId() { return ids_->Next(); }

namespace {

// Blocks per worker call: a frame holds at most wire::kMaxFrameBytes.
size_t BlocksPerCall(uint64_t bytes_per_block) {
  return std::max<size_t>(1, static_cast<size_t>((32ull << 20) / std::max<uint64_t>(bytes_per_block, 1)));
}

}  // namespace

StatusOr<std::map<uint64_t, KvPrefix>> EngineLoop::ExportKv(const std::vector<uint64_t>& ids, int32_t max_blocks) {
  std::map<uint64_t, KvPrefix> out;
  HEARTH_RETURN_IF_ERROR(RunOnWorker([&](WorkerConnection& worker) -> Status {
    if (worker.generation() != worker_generation_) return Status::Unavailable("the worker was replaced");
    for (uint64_t id : ids) {
      auto it = active_.find(id);
      const scheduler::Sequence* seq = it == active_.end() ? nullptr : it->second->model->scheduler->Find(id);
      if (!seq) continue;  // not here, or finished
      const Model& m = *it->second->model;
      const int32_t bs = m.info.block_size;
      const int32_t n = std::min(seq->num_hashed_blocks, std::max(max_blocks, 0));
      KvPrefix p;
      p.model = m.info.name;
      p.block_size = bs;
      p.tokens.assign(seq->tokens.begin(), seq->tokens.begin() + static_cast<std::ptrdiff_t>(n) * bs);
      const std::vector<int32_t> blocks(seq->block_table.begin(), seq->block_table.begin() + n);
      for (size_t at = 0; at < blocks.size();) {
        wire::KvBlocksRead read{m.info.name, {}};
        // The first read, of one block, tells the block's size.
        const size_t count = p.bytes_per_block == 0 ? 1 : std::min(blocks.size() - at, BlocksPerCall(p.bytes_per_block));
        read.blocks.assign(blocks.begin() + static_cast<std::ptrdiff_t>(at),
                           blocks.begin() + static_cast<std::ptrdiff_t>(at + count));
        HEARTH_ASSIGN_OR_RETURN(wire::KvBlocks got, worker.ReadKvBlocks(read));
        if (p.bytes_per_block != 0 && got.bytes_per_block != p.bytes_per_block) {
          return Status::Corruption("the worker's KV block size changed between two reads");
        }
        p.bytes_per_block = got.bytes_per_block;
        p.data += got.data;
        at += count;
      }
      out.emplace(id, std::move(p));
    }
    return Status::Ok();
  }));
  return out;
}

StatusOr<int32_t> EngineLoop::ImportKv(const KvPrefix& prefix) {
  int32_t written = 0;
  HEARTH_RETURN_IF_ERROR(RunOnWorker([&](WorkerConnection& worker) -> Status {
    if (worker.generation() != worker_generation_) return Status::Unavailable("the worker was replaced");
    auto it = models_.find(prefix.model);
    if (it == models_.end()) return Status::NotFound("model '" + prefix.model + "' is not warm here");
    Model& m = *it->second;
    if (prefix.block_size != m.info.block_size) {
      return Status::InvalidArgument("KV blocks of " + std::to_string(prefix.block_size) + " tokens; this node's have " +
                                     std::to_string(m.info.block_size));
    }
    const int32_t n = prefix.num_blocks();
    if (prefix.bytes_per_block == 0 || prefix.first_block < 0 || prefix.first_block > n ||
        prefix.data.size() != static_cast<uint64_t>(n - prefix.first_block) * prefix.bytes_per_block) {
      return Status::InvalidArgument("KV prefix: the bytes are not one block per block from the first");
    }
    const std::span<const int32_t> tokens(prefix.tokens);
    scheduler::PrefixImport import = m.scheduler->BeginPrefixImport(tokens, n);
    if (import.first_fresh < prefix.first_block) {
      // The blocks before this part are not cached here (evicted, or their part was lost): this
      // part's blocks would hang after a gap.
      m.scheduler->EndPrefixImport(import, tokens, false);
      return Status::FailedPrecondition("KV prefix: the blocks before block " + std::to_string(prefix.first_block) +
                                        " are not cached here");
    }
    Status st = Status::Ok();
    const size_t per_call = BlocksPerCall(prefix.bytes_per_block);
    for (size_t at = 0; st.ok() && at < import.fresh.size(); at += per_call) {
      const size_t count = std::min(import.fresh.size() - at, per_call);
      wire::KvBlocksWrite write;
      write.model = prefix.model;
      write.blocks.assign(import.fresh.begin() + static_cast<std::ptrdiff_t>(at),
                          import.fresh.begin() + static_cast<std::ptrdiff_t>(at + count));
      write.bytes_per_block = prefix.bytes_per_block;
      const size_t from =
          (static_cast<size_t>(import.first_fresh - prefix.first_block) + at) * prefix.bytes_per_block;
      write.data = prefix.data.substr(from, count * prefix.bytes_per_block);
      st = worker.WriteKvBlocks(write);
    }
    m.scheduler->EndPrefixImport(import, tokens, st.ok());
    if (st.ok()) written = static_cast<int32_t>(import.fresh.size());
    return st;
  }));
  return written;
}

Status EngineLoop::ApplyCommand(ModelCommand& c) {
  if (c.load) {  // here, not between iterations: the whole load at once
    HEARTH_ASSIGN_OR_RETURN(*c.loaded, worker_->LoadModel(*c.load));
    return Status::Ok();
  }
  if (c.task) return c.task(*worker_);
  if (c.add) {
    std::lock_guard<std::mutex> lock(mu_);
    if (models_.contains(c.name)) return Status::InvalidArgument("model '" + c.name + "' added twice");
    models_[c.name] = c.add;
    return Status::Ok();
  }
  auto it = models_.find(c.name);
  if (it == models_.end()) return Status::NotFound("model '" + c.name + "' is not in the engine");
  std::shared_ptr<Model> m = it->second;
  std::vector<uint64_t> ids;
  for (const auto& [id, a] : active_) {
    if (a->model == m) ids.push_back(id);
  }
  for (uint64_t id : ids) {
    m->scheduler->Abort(id);
    FinishActive(id, FinishReason::kError, c.why, "");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (std::find(retired_tokenizers_.begin(), retired_tokenizers_.end(), m->tokenizer) == retired_tokenizers_.end()) {
    retired_tokenizers_.push_back(m->tokenizer);
  }
  models_.erase(c.name);
  return Status::Ok();
}

StatusOr<std::shared_ptr<EngineLoop::Model>> EngineLoop::MakeModel(const wire::ModelInfo& info,
                                                                   std::shared_ptr<const model::Tokenizer> tokenizer,
                                                                   int32_t token_budget) const {
  if (!tokenizer) return Status::InvalidArgument("model '" + info.name + "' has no tokenizer");
  if (info.num_kv_blocks < 1 || info.block_size < 1 || info.context_length < 1) {
    return Status::InvalidArgument("model '" + info.name + "': worker reported no KV blocks or no context");
  }
  if (tokenizer->vocab_size() != info.vocab_size) {
    return Status::InvalidArgument("model '" + info.name + "': tokenizer has " +
                                   std::to_string(tokenizer->vocab_size()) + " tokens, the worker's model " +
                                   std::to_string(info.vocab_size));
  }
  auto m = std::make_shared<Model>();
  m->info = info;
  m->tokenizer = std::move(tokenizer);
  const int64_t capacity = int64_t{info.num_kv_blocks} * info.block_size;
  m->max_context = static_cast<int32_t>(std::min<int64_t>(info.context_length, capacity));
  scheduler::SchedulerConfig config;
  config.token_budget = token_budget > 0 ? token_budget : options_.token_budget;
  config.idle_token_budget = std::max(config.token_budget, options_.idle_token_budget);
  config.max_num_seqs = options_.max_num_seqs;
  config.chunked_prefill = options_.chunked_prefill;
  config.block_size = info.block_size;
  HEARTH_RETURN_IF_ERROR(scheduler::ValidateSchedulerConfig(config));
  m->scheduler = std::make_unique<scheduler::BatchScheduler>(config, info.num_kv_blocks, &clock_);
  return m;
}

void EngineLoop::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return;
    started_ = true;
  }
  PublishStats();
  worker_generation_ = worker_->generation();
  thread_ = std::thread([this] { Run(); });
}

void EngineLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

const model::Tokenizer* EngineLoop::tokenizer(const std::string& model) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(model);
  return it == models_.end() ? nullptr : it->second->tokenizer.get();
}

int32_t EngineLoop::context_length(const std::string& model) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(model);
  return it == models_.end() ? 0 : it->second->max_context;
}

int32_t EngineLoop::embedding_size(const std::string& model) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(model);
  return it == models_.end() ? 0 : it->second->info.hidden_size;
}

std::vector<int32_t> EngineLoop::stop_token_ids(const std::string& model) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(model);
  return it == models_.end() ? std::vector<int32_t>() : it->second->info.eos_token_ids;
}

StatusOr<uint64_t> EngineLoop::Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) {
  if (!sink) return Status::InvalidArgument("no sink for the request");
  std::shared_ptr<Model> model;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = models_.find(request.model);
    if (it != models_.end()) model = it->second;
  }
  // Between the registry's placement and here the model can be unloaded or reloaded: a
  // passing state, so the client is told to retry.
  if (!model) return Status::Unavailable("model '" + request.model + "' is being unloaded or reloaded; retry");
  Model& m = *model;
  if (request.prompt.empty()) return Status::InvalidArgument("the prompt is empty");
  const bool pooled = request.pooling != Pooling::kNone;
  if (pooled) {
    if (m.info.hidden_size < 1) return Status::InvalidArgument("the worker reported no hidden size for embeddings");
    if (static_cast<int32_t>(request.prompt.size()) > m.max_context) {
      return Status::InvalidArgument("input of " + std::to_string(request.prompt.size()) +
                                     " tokens exceeds the context of " + std::to_string(m.max_context) +
                                     " tokens for model '" + request.model + "'");
    }
    request.max_tokens = 1;     // the one "step with logits" that returns the vector
    request.durable = false;    // nothing generated, nothing to replay
    request.committed.clear();
  }
  if (request.max_tokens < 1) return Status::InvalidArgument("max_tokens must be at least 1");
  const int64_t needed = static_cast<int64_t>(request.prompt.size()) + (pooled ? 0 : request.max_tokens);
  if (needed > m.max_context) {
    return Status::InvalidArgument("prompt of " + std::to_string(request.prompt.size()) + " tokens plus max_tokens " +
                                   std::to_string(request.max_tokens) + " exceeds the context of " +
                                   std::to_string(m.max_context) + " tokens for model '" + request.model + "'");
  }
  for (int32_t t : request.prompt) {
    if (t < 0 || t >= m.info.vocab_size) {
      return Status::InvalidArgument("prompt token id " + std::to_string(t) + " is outside the vocabulary");
    }
  }
  for (const GeneratedToken& t : request.committed) {
    if (t.id < 0 || t.id >= m.info.vocab_size) {
      return Status::InvalidArgument("committed token id " + std::to_string(t.id) + " is outside the vocabulary");
    }
  }
  for (const LogitBias& b : request.sampling.logit_bias) {
    if (b.token >= m.info.vocab_size) {
      return Status::InvalidArgument("logit_bias token id " + std::to_string(b.token) + " is outside the vocabulary");
    }
  }
  for (int32_t t : request.sampling.stop_token_ids) {
    if (t >= m.info.vocab_size) {
      return Status::InvalidArgument("stop_token_ids id " + std::to_string(t) + " is outside the vocabulary");
    }
  }
  HEARTH_ASSIGN_OR_RETURN(OutputDecoder output,
                          OutputDecoder::Create(*m.tokenizer, request.stop,
                                                RequestEndTokens(request.sampling, m.info.eos_token_ids),
                                                request.max_tokens));

  auto active = std::make_unique<Active>();
  active->model = std::move(model);
  active->request = std::move(request);
  active->sink = std::move(sink);
  active->output.emplace(std::move(output));
  active->submitted_ns = clock_.NowNanos();
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_ || stopping_) return Status::Unavailable("the engine is not running");
    if (submitted_.size() >= options_.max_queued) return Status::ResourceExhausted("too many queued requests");
    id = active->request.id != 0 ? active->request.id : ids_->Next();
    ids_->Observe(id);
    active->id = id;
    submitted_.push_back(std::move(active));
  }
  cv_.notify_all();
  return id;
}

void EngineLoop::Cancel(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_.push_back(id);
  }
  cv_.notify_all();
}

int64_t EngineLoop::NumUnfinished(const std::string& model) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = unfinished_.find(model);
  int64_t n = it == unfinished_.end() ? 0 : it->second;
  for (const std::unique_ptr<Active>& a : submitted_) n += a->request.model == model ? 1 : 0;
  return n;
}

EngineStats EngineLoop::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  EngineStats s = stats_;
  s.num_waiting += static_cast<int64_t>(submitted_.size());
  return s;
}

void EngineLoop::PublishStats() {
  EngineStats s;
  std::map<std::string, int64_t> unfinished;
  for (const auto& [name, m] : models_) {
    unfinished[name] = m->scheduler->num_waiting() + m->scheduler->num_running();
    ModelEngineStats& ms = s.models[name];
    ms.num_waiting = m->scheduler->num_waiting();
    ms.num_running = m->scheduler->num_running();
    ms.kv_blocks_total = m->scheduler->block_pool().num_blocks();
    ms.kv_blocks_free = m->scheduler->block_pool().num_free();
    ms.prefix_cache_queried_blocks = m->scheduler->block_pool().stats().num_query_blocks;
    ms.prefix_cache_hit_blocks = m->scheduler->block_pool().stats().num_hit_blocks;
    s.num_waiting += ms.num_waiting;
    s.num_running += ms.num_running;
    s.kv_blocks_total += ms.kv_blocks_total;
    s.kv_blocks_free += ms.kv_blocks_free;
    s.prefix_cache_queried_blocks += ms.prefix_cache_queried_blocks;
    s.prefix_cache_hit_blocks += ms.prefix_cache_hit_blocks;
  }
  for (const auto& [name, tokens] : tokens_generated_by_model_) s.models[name].tokens_generated = tokens;
  s.tokens_generated = tokens_generated_;
  std::lock_guard<std::mutex> lock(mu_);
  stats_ = s;
  unfinished_.swap(unfinished);
}

void EngineLoop::Run() {
  bool ran_step = false;
  for (;;) {
    std::deque<std::unique_ptr<Active>> incoming;
    std::vector<uint64_t> cancels;
    std::deque<std::shared_ptr<ModelCommand>> commands;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Sleep only when the last iteration had nothing to run, and only until the next poll of
      // a load in progress.
      if (!ran_step) {
        auto woken = [this] { return stopping_ || !submitted_.empty() || !cancelled_.empty() || !commands_.empty(); };
        if (loads_.empty()) {
          cv_.wait(lock, woken);
        } else {
          cv_.wait_until(lock, next_load_poll_, woken);
        }
      }
      if (stopping_) break;
      incoming.swap(submitted_);
      cancels.swap(cancelled_);
      commands.swap(commands_);
    }
    for (std::shared_ptr<ModelCommand>& c : commands) {
      if (c->load) {
        loads_.push_back(std::move(c));
      } else {
        c->done.set_value(ApplyCommand(*c));
      }
    }
    AdvanceLoads();
    for (std::unique_ptr<Active>& a : incoming) Admit(std::move(a));
    for (uint64_t id : cancels) ApplyCancel(id);
    ran_step = false;
    for (auto& [name, m] : models_) ran_step = StepModel(*m) || ran_step;
    FlushOutbox();
    PublishStats();
  }
  FlushOutbox();
  shutting_down_ = true;

  // Shutting down: every request still here gets its last event.
  std::deque<std::unique_ptr<Active>> left;
  std::deque<std::shared_ptr<ModelCommand>> commands;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(submitted_);
    commands.swap(commands_);
  }
  for (std::shared_ptr<ModelCommand>& c : commands) c->done.set_value(Status::Unavailable("the engine is stopping"));
  // A load begun on the worker is left there: the worker goes with the daemon.
  for (std::shared_ptr<ModelCommand>& c : loads_) c->done.set_value(Status::Unavailable("the engine is stopping"));
  loads_.clear();
  const Status shutdown = Status::Unavailable("server shutting down");
  for (std::unique_ptr<Active>& a : left) {
    FinishEvent ev;
    ev.finish_reason = FinishReason::kError;
    ev.status = shutdown;
    ev.prompt_tokens = static_cast<int32_t>(a->request.prompt.size());
    a->sink->OnFinish(ev);
  }
  std::vector<uint64_t> ids;
  for (const auto& [id, a] : active_) ids.push_back(id);
  for (uint64_t id : ids) {
    active_.at(id)->model->scheduler->Abort(id);
    FinishActive(id, FinishReason::kError, shutdown, "");
  }
  FlushOutbox();
  PublishStats();
  LogInfo("engine loop stopped")
      .Kv("steps", num_steps_)
      .Kv("worker_seconds", worker_seconds_)
      .Kv("host_seconds", host_seconds_)
      .Kv("host_us_per_step", num_steps_ > 0 ? 1e6 * host_seconds_ / static_cast<double>(num_steps_) : 0.0)
      .Kv("commits", num_commits_)
      .Kv("commit_us_per_commit", num_commits_ > 0 ? 1e6 * commit_seconds_ / static_cast<double>(num_commits_) : 0.0);
}

void EngineLoop::AdvanceLoads() {
  // Often enough for a progress bar and a prompt start, rarely enough to cost nothing: a poll
  // is one small round trip to the worker.
  constexpr std::chrono::milliseconds kPollInterval{10};
  while (!loads_.empty()) {
    ModelCommand& c = *loads_.front();
    if (c.cancel_load && c.cancel_load->load()) {
      if (load_begun_) {
        Status dropped = worker_->UnloadModel(c.load->name);  // stops the read, frees its pages
        if (!dropped.ok()) LogWarn("worker kept a cancelled load").Kv("name", c.load->name).Kv("error", dropped.ToString());
      }
      load_begun_ = false;
      c.done.set_value(Status::Unavailable("the load was cancelled"));
      loads_.pop_front();
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    if (load_begun_ && now < next_load_poll_) return;
    StatusOr<wire::LoadStatus> status = load_begun_ ? worker_->PollLoad(c.load->name) : worker_->BeginLoad(*c.load);
    load_begun_ = status.ok() && !status->finished;
    if (load_begun_) {
      next_load_poll_ = now + kPollInterval;
      return;
    }
    Status done = status.status();
    if (done.ok()) {
      StatusOr<wire::ModelInfo> info = worker_->FinishLoad(c.load->name);
      if (info.ok()) *c.loaded = std::move(info).value();
      done = info.status();
    }
    c.done.set_value(done);
    loads_.pop_front();
  }
}

void EngineLoop::Admit(std::unique_ptr<Active> active) {
  const uint64_t id = active->id;
  Model& m = *active->model;
  auto current = models_.find(active->request.model);
  if (current == models_.end() || current->second != active->model) {
    // Removed (or removed and added again) after Submit: its KV cache is not this request's.
    active_[id] = std::move(active);
    FinishActive(id, FinishReason::kError, Status::Unavailable("model '" + m.info.name + "' was unloaded"), "");
    return;
  }
  scheduler::Request r;
  r.id = id;
  r.priority = active->request.priority;
  r.prompt = active->request.prompt;
  r.max_tokens = active->request.max_tokens;
  r.eos_token_ids = RequestEndTokens(active->request.sampling, m.info.eos_token_ids);
  r.use_prefix_cache = active->request.pooling == Pooling::kNone;
  active->admitted_ns = clock_.NowNanos();
  for (const GeneratedToken& t : active->request.committed) r.generated.push_back(t.id);
  Active& a = *active;
  active_[id] = std::move(active);
  if (ReplayCommitted(a)) return;
  Status st = m.scheduler->Add(std::move(r));
  if (!st.ok()) FinishActive(id, FinishReason::kError, st, "");
}

bool EngineLoop::ReplayCommitted(Active& a) {
  const std::vector<GeneratedToken>& committed = a.request.committed;
  if (committed.empty()) return false;
  const std::optional<FinishReason> end = a.output->Replay(committed, [&](TokenEvent ev) { Emit(a, std::move(ev)); });
  if (!end) return false;
  // Its end was not recorded (the daemon stopped in between): finish it as the engine would have.
  std::string text = a.output->FinishText();
  a.num_generated = static_cast<int32_t>(committed.size());
  FinishActive(a.id, *end, Status::Ok(), text);
  return true;
}

void EngineLoop::ApplyCancel(uint64_t id) {
  auto it = active_.find(id);
  if (it == active_.end()) return;  // unknown or already finished
  if (const scheduler::Sequence* seq = it->second->model->scheduler->Find(id)) {
    it->second->timings = scheduler::ComputeTimings(seq->times);
  }
  it->second->model->scheduler->Abort(id);
  FinishActive(id, FinishReason::kCancelled, Status::Ok(), "");
}

bool EngineLoop::StepModel(Model& m) {
  // Replaced since our last step (a step of another caller restarted it): its KV caches and
  // sequences are gone, so everything is computed again.
  if (worker_->generation() != worker_generation_) RecomputeAfterWorkerRestart();
  scheduler::BatchScheduler& sched = *m.scheduler;
  if (!sched.has_unfinished()) return false;
  using Clock = std::chrono::steady_clock;
  const Clock::time_point t0 = Clock::now();
  Clock::time_point sent = t0, received = t0;
  struct Account {  // charges the step's time on every return path
    EngineLoop* loop;
    const Clock::time_point& t0;
    Clock::time_point& sent;
    Clock::time_point& received;
    ~Account() {
      if (sent == t0) return;  // nothing was sent
      const Clock::time_point end = Clock::now();
      ++loop->num_steps_;
      loop->worker_seconds_ += std::chrono::duration<double>(received - sent).count();
      loop->host_seconds_ += std::chrono::duration<double>((sent - t0) + (end - received)).count();
    }
  } account{this, t0, sent, received};
  scheduler::SchedulerOutput out = sched.Schedule();
  for (const scheduler::FinishedRequest& f : out.failed) Finish(f);
  if (out.seqs.empty()) return false;
  NoteCachedPrompt(out);

  auto pooling_of = [this](uint64_t id) { return active_.at(id)->request.pooling; };
  const wire::StepRequest req = m.steps.Build(
      m.info.name, out, sched, [this](uint64_t id) -> const SamplingParams& { return active_.at(id)->request.sampling; },
      pooling_of);
  size_t num_wanted = 0, num_pooled = 0;
  for (const wire::StepSequence& w : req.seqs) {
    if (!w.want_logits) continue;
    (pooling_of(w.request_id) == Pooling::kNone ? num_wanted : num_pooled) += 1;
  }

  sent = Clock::now();
  StatusOr<wire::StepReply> reply = worker_->Step(req);
  received = Clock::now();
  if (const double seconds = std::chrono::duration<double>(received - sent).count();
      reply.ok() && out.num_batched_tokens >= 32 && seconds > 0) {
    const double sample = out.num_batched_tokens / seconds;
    const double before = prefill_tokens_per_second_.load();
    prefill_tokens_per_second_.store(before == 0 ? sample : 0.8 * before + 0.2 * sample);
  }
  if (!reply.ok()) {
    if (worker_->generation() != worker_generation_) {
      RecomputeAfterWorkerRestart();
    } else {
      FailStep(m, out, reply.status());
    }
    return true;
  }
  // The reply is checked before the scheduler sees it: one token per
  // sequence that wanted one, in order, inside the vocabulary; one vector of the model's width
  // per embedding sequence that reached its last token, in order.
  bool well_formed = reply->sampled.size() == num_wanted && reply->embeddings.size() == num_pooled;
  for (size_t i = 0, j = 0, k = 0; well_formed && i < req.seqs.size(); ++i) {
    if (!req.seqs[i].want_logits) continue;
    if (pooling_of(req.seqs[i].request_id) != Pooling::kNone) {
      const wire::PooledEmbedding& e = reply->embeddings[k++];
      well_formed = e.request_id == req.seqs[i].request_id &&
                    e.values.size() == static_cast<size_t>(m.info.hidden_size);
      continue;
    }
    const wire::SampledTokenInfo& t = reply->sampled[j++];
    well_formed = t.request_id == req.seqs[i].request_id && t.token >= 0 && t.token < m.info.vocab_size;
  }
  if (!well_formed) {
    FailStep(m, out, Status::Corruption("worker's step reply does not match the step"));
    return true;
  }
  m.steps.Delivered(req);

  scheduler::StepResult result;
  for (wire::PooledEmbedding& e : reply->embeddings) {
    active_.at(e.request_id)->embedding = std::move(e.values);
    result.sampled.push_back({e.request_id, 0, /*stop=*/true});  // done: its one "token" ends it
  }
  for (const wire::SampledTokenInfo& t : reply->sampled) {
    GeneratedToken token = MakeGeneratedToken(*m.tokenizer, t);  // the one conversion from the wire
    Active& active = *active_.at(t.request_id);
    if (options_.committer && active.request.durable) {
      const scheduler::Sequence* seq = sched.Find(t.request_id);
      CHECK(seq != nullptr);
      commit_tokens_.push_back({t.request_id, seq->num_generated(), token});
    }
    bool stop = Deliver(active, std::move(token));
    result.sampled.push_back({t.request_id, t.token, stop});
  }
  for (const scheduler::FinishedRequest& f : sched.OnStepDone(result)) Finish(f);
  return true;
}

void EngineLoop::FailStep(Model& m, const scheduler::SchedulerOutput& out, const Status& status) {
  LogError("step failed").Kv("model", m.info.name).Kv("seqs", out.seqs.size()).Kv("error", status.ToString());
  for (const scheduler::ScheduledSequence& s : out.seqs) m.scheduler->Abort(s.id);
  (void)m.scheduler->OnStepDone({});  // closes the step; every sequence in it is gone
  for (const scheduler::ScheduledSequence& s : out.seqs) FinishActive(s.id, FinishReason::kError, status, "");
}

void EngineLoop::NoteCachedPrompt(const scheduler::SchedulerOutput& out) {
  for (const scheduler::ScheduledSequence& s : out.seqs) {
    if (s.num_cached_tokens == 0) continue;
    auto it = active_.find(s.id);
    // Only before the first token: a later admission (after preemption) finds its own blocks.
    if (it == active_.end() || it->second->num_generated > 0) continue;
    Active& a = *it->second;
    a.cached_prompt_tokens = std::min<int32_t>(s.num_cached_tokens, static_cast<int32_t>(a.request.prompt.size()));
  }
}

bool EngineLoop::Deliver(Active& a, GeneratedToken token) {
  if (a.output->IsStopToken(token.id)) return false;  // the scheduler finishes it as EOS
  bool stopped = false;
  Emit(a, a.output->Token(std::move(token), &stopped));
  return stopped;
}

void EngineLoop::Emit(Active& a, TokenEvent event) {
  ++a.num_generated;
  ++tokens_generated_;
  ++tokens_generated_by_model_[a.request.model];
  outbox_.push_back({a.id, a.sink, std::move(event), {}});
}

void EngineLoop::Finish(const scheduler::FinishedRequest& f) {
  auto it = active_.find(f.id);
  if (it == active_.end()) return;
  Active& a = *it->second;
  std::string text;
  if (f.reason != scheduler::FinishReason::kError) text = a.output->FinishText();
  // Usage counts every generated token, the end-of-sequence one included.
  a.num_generated = static_cast<int32_t>(f.generated.size());
  a.timings = f.timings;
  FinishActive(f.id, ReasonOf(f.reason), f.status, text);
}

void EngineLoop::FinishActive(uint64_t id, FinishReason reason, const Status& status, const std::string& text) {
  auto it = active_.find(id);
  if (it == active_.end()) return;
  std::unique_ptr<Active> a = std::move(it->second);
  active_.erase(it);
  a->model->steps.Release(id);
  FinishEvent ev;
  ev.finish_reason = reason;
  ev.status = status;
  ev.prompt_tokens = static_cast<int32_t>(a->request.prompt.size());
  ev.completion_tokens = a->request.pooling == Pooling::kNone ? a->num_generated : 0;
  ev.cached_tokens = a->cached_prompt_tokens;
  ev.embedding = std::move(a->embedding);
  ev.text = text;
  ev.latency = ToLatency(a->timings, a->submitted_ns, a->admitted_ns, clock_.NowNanos());
  if (options_.committer && !shutting_down_ && a->request.durable) {
    commit_ends_.push_back({id, reason, status.ok() ? "" : status.ToString()});
  }
  outbox_.push_back({id, std::move(a->sink), std::nullopt, std::move(ev)});
}

void EngineLoop::RecomputeAfterWorkerRestart() {
  worker_generation_ = worker_->generation();
  LogWarn("worker replaced; recomputing every request's KV cache").Kv("requests", active_.size());
  for (auto& [name, m] : models_) {
    m->steps.Forget();  // the new worker holds no sequence: each goes full
    std::vector<std::pair<uint64_t, scheduler::Request>> again;  // (arrival, request)
    for (const auto& [id, a] : active_) {
      if (a->model != m) continue;
      const scheduler::Sequence* seq = m->scheduler->Find(id);
      if (seq == nullptr) continue;
      scheduler::Request r;
      r.id = id;
      r.priority = seq->priority;
      r.prompt.assign(seq->tokens.begin(), seq->tokens.begin() + seq->num_prompt_tokens);
      r.generated.assign(seq->tokens.begin() + seq->num_prompt_tokens, seq->tokens.end());
      r.max_tokens = seq->max_tokens;
      r.eos_token_ids = seq->eos_token_ids;
      r.use_prefix_cache = seq->use_prefix_cache;  // an embedding is run again from its start
      again.emplace_back(seq->arrival, std::move(r));
    }
    std::sort(again.begin(), again.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    // A fresh scheduler: the old one's prefix cache names blocks the new worker does not have.
    m->scheduler = std::make_unique<scheduler::BatchScheduler>(m->scheduler->config(), m->info.num_kv_blocks, &clock_);
    for (auto& [arrival, r] : again) {
      const uint64_t id = r.id;
      Status st = m->scheduler->Add(std::move(r));
      if (!st.ok()) FinishActive(id, FinishReason::kError, st, "");
    }
  }
}

void EngineLoop::FlushOutbox() {
  if (options_.committer && (!commit_tokens_.empty() || !commit_ends_.empty())) {
    const auto t0 = std::chrono::steady_clock::now();
    Status st = options_.committer->Commit(commit_tokens_, commit_ends_);
    commit_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++num_commits_;
    commit_tokens_.clear();
    commit_ends_.clear();
    if (!st.ok()) FailUncommitted(st);
  }
  std::vector<Outgoing> out;
  out.swap(outbox_);
  for (Outgoing& o : out) {
    if (o.token) {
      o.sink->OnToken(*o.token);
    } else {
      o.sink->OnFinish(o.finish);
    }
  }
}

void EngineLoop::FailUncommitted(const Status& status) {
  LogError("cannot commit generated tokens; failing their requests").Kv("error", status.ToString());
  const Status failed = Status::Unavailable("cannot store generated tokens: " + status.message());
  std::vector<Outgoing> out;
  out.swap(outbox_);
  std::unordered_map<uint64_t, bool> seen;
  for (Outgoing& o : out) {
    if (!seen.emplace(o.id, true).second) continue;
    if (auto it = active_.find(o.id); it != active_.end()) {
      it->second->model->scheduler->Abort(o.id);
      it->second->model->steps.Release(o.id);
      active_.erase(it);
    }
    FinishEvent ev;
    ev.finish_reason = FinishReason::kError;
    ev.status = failed;
    ev.prompt_tokens = o.finish.prompt_tokens;
    outbox_.push_back({o.id, std::move(o.sink), std::nullopt, std::move(ev)});
  }
}

}  // namespace hearth::daemon
