#include "daemon/routing/routing_engine.h"

#include "common/log.h"

namespace hearth::daemon {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Hands on the events of a request the local engine resumes after a peer failed it, less the
// first `skip` token events: the replay of tokens its sink already has.
class SkipSink final : public RequestSink {
 public:
  // `first` (may be empty) runs at the first event handed on.
  SkipSink(std::shared_ptr<RequestSink> inner, size_t skip, std::function<void()> first = nullptr)
      : inner_(std::move(inner)), skip_(skip), first_(std::move(first)) {}
  void OnToken(const TokenEvent& event) override {
    if (skip_ > 0) {
      --skip_;
      return;
    }
    if (first_) {
      first_();
      first_ = nullptr;
    }
    inner_->OnToken(event);
  }
  void OnFinish(const FinishEvent& event) override { inner_->OnFinish(event); }
  void OnModelLoading(bool loading) override { inner_->OnModelLoading(loading); }
  void OnServedBy(const std::string& node) override { inner_->OnServedBy(node); }
  void OnRemoteCost(int32_t tokens, double dollars) override { inner_->OnRemoteCost(tokens, dollars); }

 private:
  const std::shared_ptr<RequestSink> inner_;
  size_t skip_;                  // the engine's thread only
  std::function<void()> first_;  // the engine's thread only
};

}  // namespace

class RoutingEngine::StreamHandler final : public ForwardStreamHandler {
 public:
  StreamHandler(RoutingEngine* engine, uint64_t id, int32_t attempt) : engine_(engine), id_(id), attempt_(attempt) {}
  void OnStatus(int http_status) override { engine_->Admitted(id_, attempt_, http_status); }
  void OnEvents(std::vector<std::string> events) override {
    Work w;
    w.id = id_;
    w.attempt = attempt_;
    w.events = std::move(events);
    engine_->Push(std::move(w));
  }
  void OnClosed(const Status& why, int http_status, const std::string& error_body) override {
    Work w;
    w.id = id_;
    w.attempt = attempt_;
    w.closed = true;
    w.why = why;
    w.http_status = http_status;
    w.error_body = error_body;
    engine_->Closed(std::move(w));
  }

 private:
  RoutingEngine* const engine_;
  const uint64_t id_;
  const int32_t attempt_;
};

RoutingEngine::RoutingEngine(Engine* local, ForwardClient* client, RoutingOptions options)
    : local_(local), client_(client), options_(std::move(options)) {
  thread_ = std::thread([this] { Run(); });
}

RoutingEngine::~RoutingEngine() { Stop(); }

std::optional<cluster::NodeRecord> RoutingEngine::Member(const std::string& node) const {
  if (!options_.members) return std::nullopt;
  for (cluster::NodeRecord& r : options_.members()) {
    if (r.name == node) return std::move(r);
  }
  return std::nullopt;
}

std::string RoutingEngine::Choose(const GenerationRequest& request, const std::set<std::string>& tried) const {
  if (!options_.members) return options_.self;
  const std::vector<cluster::NodeRecord> members = options_.members();
  std::vector<RouteCandidate> candidates;
  candidates.reserve(members.size());
  std::map<std::string, int64_t> open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    open = open_by_node_;
  }
  bool self_listed = false;
  for (const cluster::NodeRecord& r : members) {
    if (r.name != options_.self && (tried.count(r.name) || r.draining)) continue;
    RouteCandidate c{r.name, "", 0, r.name == options_.self};
    for (const cluster::ModelPresence& m : r.models) {
      if (m.name == request.model) c.state = m.state;
    }
    if (r.name == options_.self) {
      self_listed = true;
      const EngineStats s = local_->Stats();
      auto it = s.models.find(request.model);
      c.load = s.num_running + s.num_waiting + (it == s.models.end() ? 0 : it->second.num_waiting_for_model);
    } else {
      auto it = open.find(r.name);
      c.load = it == open.end() ? 0 : it->second;
    }
    candidates.push_back(std::move(c));
  }
  if (!self_listed) return options_.self;  // not a member (yet): serve here
  const int i = ChooseRoute(candidates, PrefixHash(request.prompt), {options_.balance_slack});
  return i < 0 ? options_.self : candidates[i].node;
}

StatusOr<uint64_t> RoutingEngine::Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) {
  const model::Tokenizer* tokenizer = local_->tokenizer(request.model);
  if (!tokenizer) return Status::NotFound("model '" + request.model + "' not found");
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return Status::Unavailable("server shutting down");
  }
  std::string node = request.id == 0 ? options_.self : Choose(request, {});
  if (node == options_.self) return SubmitLocal(std::move(request), std::move(sink), 0, true);
  auto owned = std::make_unique<Forwarded>();
  Forwarded& f = *owned;
  f.id = request.id;
  HEARTH_ASSIGN_OR_RETURN(OutputDecoder decoder, OutputDecoder::Create(*tokenizer, request.stop, {}, request.max_tokens));
  f.decoder.emplace(std::move(decoder));
  f.tokens = request.committed;
  f.request = std::move(request);
  f.sink = std::move(sink);
  f.submitted = Clock::now();
  // Tokens a previous run committed: their events again, as the local engine replays them.
  if (!f.tokens.empty()) {
    const std::optional<FinishReason> end = f.decoder->Replay(f.tokens, [&](TokenEvent ev) { f.sink->OnToken(ev); });
    if (end) return Status::FailedPrecondition("the request already ended");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    forwarded_[f.id] = std::move(owned);
  }
  // `f` may end (and be retired) while this thread waits for its admission: it is freed only
  // once this function is done with it.
  struct Done {
    RoutingEngine* engine;
    Forwarded& f;
    ~Done() {
      std::lock_guard<std::mutex> lock(engine->mu_);
      f.submitting = false;
    }
  } done{this, f};
  // Each node that refuses it at once is replaced by the next best, before the client hears.
  while (true) {
    Open(f, node);
    std::unique_lock<std::mutex> lock(mu_);
    admission_.wait_for(lock, options_.admission_timeout, [&] { return f.admission != Forwarded::Admission::kWaiting; });
    if (f.admission != Forwarded::Admission::kRefused) {
      f.admission = Forwarded::Admission::kAsync;  // from here on, failures resubmit it
      ++counters_.forwarded;
      ++counters_.open_forwarded;
      return f.id;
    }
    Uncount(f);
    const int status = f.refused_status;
    const Status why = f.refused_why;
    const std::string body = f.refused_body;
    f.admission = Forwarded::Admission::kWaiting;
    f.tried.insert(node);
    lock.unlock();
    LogInfo("a node refused a forwarded request").Kv("node", node).Kv("http_status", status).Kv("why", why.ToString());
    if (status == 400) {
      Forget(f.id);
      return Status::InvalidArgument("node '" + node + "' refused the request: " + body.substr(0, 512));
    }
    node = f.attempt >= options_.max_attempts ? options_.self : Choose(f.request, f.tried);
    if (node != options_.self) continue;
    // This node is the last one left.
    GenerationRequest request = f.request;
    std::shared_ptr<RequestSink> sink = f.sink;
    const size_t skip = f.tokens.size();
    Forget(f.id);
    return SubmitLocal(std::move(request), std::move(sink), skip, true);
  }
}

StatusOr<uint64_t> RoutingEngine::SubmitLocal(GenerationRequest request, std::shared_ptr<RequestSink> sink, size_t skip,
                                              bool arrival, std::function<void()> first) {
  sink->OnServedBy(options_.self);
  if (skip > 0 || first) sink = std::make_shared<SkipSink>(std::move(sink), skip, std::move(first));
  StatusOr<uint64_t> id = local_->Submit(std::move(request), std::move(sink));
  if (id.ok() && arrival) {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.routed_local;
  }
  return id;
}

void RoutingEngine::Forget(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = forwarded_.find(id);
  if (it == forwarded_.end()) return;
  Uncount(*it->second);
  retired_.push_back(std::move(it->second));
  forwarded_.erase(it);
}

void RoutingEngine::Admitted(uint64_t id, int32_t attempt, int http_status) {
  if (http_status != 200) return;  // a refusal is known at its close, with its body
  std::shared_ptr<RequestSink> sink;
  std::string node;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = forwarded_.find(id);
    if (it == forwarded_.end() || it->second->attempt != attempt) return;
    Forwarded& f = *it->second;
    if (f.admission == Forwarded::Admission::kWaiting) {
      f.admission = Forwarded::Admission::kAdmitted;
      admission_.notify_all();
    }
    sink = f.sink;
    node = f.node;
  }
  sink->OnServedBy(node);  // it took the request (a refusal does not count)
}

void RoutingEngine::Closed(Work work) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = forwarded_.find(work.id);
    if (it != forwarded_.end() && it->second->attempt == work.attempt &&
        it->second->admission == Forwarded::Admission::kWaiting) {
      // Submit waits for this node's answer: the refusal is its to handle.
      Forwarded& f = *it->second;
      f.admission = Forwarded::Admission::kRefused;
      f.refused_why = work.why.ok() ? Status::Unavailable("the peer's stream ended at once") : work.why;
      f.refused_status = work.http_status;
      f.refused_body = std::move(work.error_body);
      admission_.notify_all();
      return;
    }
  }
  Push(std::move(work));
}

void RoutingEngine::Open(Forwarded& f, const std::string& node) {
  StatusOr<PeerAddress> peer = Status::NotFound("not a member");
  if (std::optional<cluster::NodeRecord> r = Member(node)) peer = ParsePeerUrl(r->advertise);
  ForwardRequest wire;
  wire.model = f.request.model;
  wire.prompt = f.request.prompt;
  wire.sampling = f.request.sampling;
  wire.max_tokens = f.request.max_tokens;
  wire.stop = f.request.stop;
  wire.priority = f.request.priority;
  if (options_.restart_on_loss) {
    f.regenerate = f.tokens.size();  // started over: what the client has comes again first
  } else {
    wire.committed.reserve(f.tokens.size());
    for (const GeneratedToken& t : f.tokens) wire.committed.push_back(t.id);
  }
  wire.entry = options_.self;
  wire.entry_id = f.id;
  int32_t attempt = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Uncount(f);
    f.node = node;
    attempt = ++f.attempt;
    ++open_by_node_[node];
    f.counted = true;
  }
  auto handler = std::make_shared<StreamHandler>(this, f.id, attempt);
  if (!peer.ok()) {
    handler->OnClosed(Status::Unavailable("node '" + node + "': " + peer.status().message()), 0, "");
    return;
  }
  const uint64_t stream =
      client_->Open(*peer, ForwardHttpRequest(*peer, options_.token, EncodeForwardRequest(wire)), std::move(handler));
  std::lock_guard<std::mutex> lock(mu_);
  if (f.attempt == attempt) f.stream = stream;
}

Status RoutingEngine::CheckAdmission(const std::string& model, int64_t prompt_tokens) {
  if (options_.members && !options_.members().empty()) return Status::Ok();
  return local_->CheckAdmission(model, prompt_tokens);
}

void RoutingEngine::Cancel(uint64_t id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (forwarded_.count(id)) {
      Work w;
      w.id = id;
      w.cancel = true;
      work_.push_back(std::move(w));
      wake_.notify_one();
      return;
    }
  }
  local_->Cancel(id);
}

void RoutingEngine::Push(Work work) {
  std::lock_guard<std::mutex> lock(mu_);
  work_.push_back(std::move(work));
  wake_.notify_one();
}

RoutingCounters RoutingEngine::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

void RoutingEngine::Run() {
  Clock::time_point next_check = Clock::now() + options_.check_every;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait_until(lock, next_check, [this] { return !work_.empty() || (stopping_ && forwarded_.empty()); });
    if (stopping_ && forwarded_.empty() && work_.empty()) return;
    std::vector<Work> batch(std::make_move_iterator(work_.begin()), std::make_move_iterator(work_.end()));
    work_.clear();
    lock.unlock();
    if (!batch.empty()) Apply(batch);
    if (Clock::now() >= next_check) {
      CheckMembers();
      next_check = Clock::now() + options_.check_every;
    }
    lock.lock();
  }
}

void RoutingEngine::Apply(std::vector<Work>& batch) {
  std::vector<Pending> pending;
  std::vector<TokenRecord> tokens;
  std::vector<EndRecord> ends;
  for (Work& w : batch) {
    Forwarded* f = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = forwarded_.find(w.id);
      if (it != forwarded_.end()) f = it->second.get();
    }
    if (!f || f->ending) continue;  // ended already
    if (w.cancel) {
      f->ending = true;
      ends.push_back({f->id, FinishReason::kCancelled, ""});
      Pending p;
      p.kind = Pending::Kind::kCancel;
      p.f = f;
      pending.push_back(std::move(p));
      continue;
    }
    if (w.attempt != f->attempt) continue;  // a stream given up since
    const model::Tokenizer* tokenizer = local_->tokenizer(f->request.model);
    bool given_up = false;  // this stream is closed here: its close resubmits it
    for (const std::string& data : w.events) {
      StatusOr<ForwardFrame> frame = DecodeForwardFrame(data);
      if (frame.ok() && !frame->is_finish && (!tokenizer || frame->token >= tokenizer->vocab_size())) {
        frame = Status::InvalidArgument("token id outside the vocabulary");
      }
      if (!frame.ok()) {
        LogWarn("a peer sent a bad frame").Kv("node", f->node).Kv("request", f->id).Kv("error", frame.status().ToString());
        given_up = true;
        break;
      }
      if (!frame->is_finish && f->regenerate > 0) {
        // Started over: a token the client already has, generated again (it must be the same).
        const size_t index = f->tokens.size() - f->regenerate--;
        if (f->tokens[index].id != frame->token) {
          LogError("a restarted request generated a different token").Kv("request", f->id).Kv("index", index);
        }
        continue;
      }
      if (!frame->is_finish) {
        Pending p;
        p.kind = Pending::Kind::kToken;
        p.f = f;
        p.token = MakeGeneratedToken(*tokenizer, *frame);
        tokens.push_back({f->id, static_cast<int32_t>(f->tokens.size()), p.token});
        f->tokens.push_back(p.token);
        pending.push_back(std::move(p));
        continue;
      }
      if (frame->generated_tokens > 0 || frame->cost_dollars > 0) {
        f->sink->OnRemoteCost(frame->generated_tokens, frame->cost_dollars);
      }
      const Status status = FrameStatus(*frame);
      if (frame->reason == FinishReason::kCancelled ||
          (frame->reason == FinishReason::kError && status.code() == Status::Code::kUnavailable)) {
        // The peer gave it up (it is shutting down, say): another node takes it, the one it
        // names if it names one.
        f->next_node = frame->next_node;
        given_up = true;
        break;
      }
      f->ending = true;
      ends.push_back({f->id, frame->reason, status.ok() ? "" : status.ToString()});
      Pending p;
      p.kind = Pending::Kind::kEnd;
      p.f = f;
      p.reason = frame->reason;
      p.status = status;
      p.prompt_tokens = frame->prompt_tokens;
      p.completion_tokens = frame->completion_tokens;
      p.cached_tokens = frame->cached_tokens;
      pending.push_back(std::move(p));
      break;
    }
    if (given_up) {
      uint64_t stream = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        stream = f->stream;
      }
      client_->Close(stream);  // its close comes back as a Work of this attempt
      continue;
    }
    if (w.closed && !f->ending) {
      Pending p;
      p.kind = Pending::Kind::kClosed;
      p.f = f;
      p.status = w.why.ok() ? Status::Unavailable("the peer's stream ended without the request's end") : w.why;
      p.http_status = w.http_status;
      p.error_body = std::move(w.error_body);
      pending.push_back(std::move(p));
    }
  }
  bool shutting_down = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down = stopping_;
  }
  if (shutting_down) ends.clear();  // a restart resumes them
  if (options_.committer && (!tokens.empty() || !ends.empty())) {
    const Status st = options_.committer->Commit(tokens, ends);
    if (!st.ok()) {
      // Nothing of it may be streamed: every request in it ends with the error.
      LogError("cannot commit forwarded tokens").Kv("error", st.ToString());
      std::set<Forwarded*> failed;
      for (const Pending& p : pending) failed.insert(p.f);
      for (Forwarded* f : failed) {
        uint64_t stream = 0;
        {
          std::lock_guard<std::mutex> lock(mu_);
          stream = f->stream;
        }
        client_->Close(stream);
        f->ending = true;
        Deliver(*f, FinishReason::kError, st, static_cast<int32_t>(f->request.prompt.size()),
                static_cast<int32_t>(f->tokens.size()));
      }
      return;
    }
  }
  for (Pending& p : pending) {
    Forwarded& f = *p.f;
    switch (p.kind) {
      case Pending::Kind::kToken: {
        if (f.stopped) break;
        const Clock::time_point now = Clock::now();
        if (f.first_token == Clock::time_point()) f.first_token = now;
        f.last_token = now;
        if (f.lost_at != Clock::time_point()) {
          const double seconds = Seconds(now - f.lost_at);
          f.lost_at = Clock::time_point();
          LogInfo("forwarded request taken over").Kv("request", f.id).Kv("node", f.node).Kv("handoff_seconds", seconds);
          if (options_.on_handoff) options_.on_handoff(seconds);
        }
        bool stopped = false;
        TokenEvent ev = f.decoder->Token(std::move(p.token), &stopped);
        f.stopped = stopped;
        f.sink->OnToken(ev);
        break;
      }
      case Pending::Kind::kEnd:
        Deliver(f, p.reason, p.status, p.prompt_tokens, p.completion_tokens, p.cached_tokens);
        break;
      case Pending::Kind::kCancel: {
        uint64_t stream = 0;
        {
          std::lock_guard<std::mutex> lock(mu_);
          stream = f.stream;
        }
        client_->Close(stream);
        Deliver(f, FinishReason::kCancelled, Status::Ok(), static_cast<int32_t>(f.request.prompt.size()),
                static_cast<int32_t>(f.tokens.size()));
        break;
      }
      case Pending::Kind::kClosed:
        if (!f.ending) Resubmit(f, p.status, p.http_status, p.error_body);
        break;
    }
  }
}

void RoutingEngine::Resubmit(Forwarded& f, const Status& why, int http_status, const std::string& error_body) {
  bool shutting_down = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Uncount(f);
    shutting_down = stopping_;
  }
  if (shutting_down) {
    f.ending = true;
    return Deliver(f, FinishReason::kError, Status::Unavailable("server shutting down"),
                   static_cast<int32_t>(f.request.prompt.size()), static_cast<int32_t>(f.tokens.size()));
  }
  if (http_status == 400) {
    // The peer refused the request itself: no other node would take it either.
    return Fail(f, Status::InvalidArgument("node '" + f.node + "' refused the request: " + error_body.substr(0, 512)));
  }
  LogWarn("forwarded request lost its node")
      .Kv("request", f.id)
      .Kv("node", f.node)
      .Kv("http_status", http_status)
      .Kv("tokens", f.tokens.size())
      .Kv("why", why.ToString());
  f.tried.insert(f.node);
  if (f.lost_at == Clock::time_point()) f.lost_at = Clock::now();
  if (f.attempt >= options_.max_attempts) {
    return Fail(f, Status::Unavailable("no node finished the request (" + std::to_string(f.attempt) +
                                           " tried): " + why.message()));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++counters_.resubmitted;
  }
  GenerationRequest request = f.request;
  request.committed = f.tokens;
  std::string node = Choose(request, f.tried);
  if (!f.next_node.empty() && !f.tried.count(f.next_node)) {
    // The node the old one handed it to holds its KV blocks, or is the one its plan chose.
    if (f.next_node == options_.self) {
      node = options_.self;
    } else if (std::optional<cluster::NodeRecord> r = Member(f.next_node); r && !r->draining) {
      node = f.next_node;
    }
  }
  f.next_node.clear();
  if (node == options_.self && options_.restart_on_loss) {
    // This node's engine would commit the regenerated tokens again: another peer if any.
    std::set<std::string> others = f.tried;
    others.insert(options_.self);
    for (const cluster::NodeRecord& r : options_.members ? options_.members() : std::vector<cluster::NodeRecord>{}) {
      if (!others.count(r.name) && !r.draining) {
        for (const cluster::ModelPresence& m : r.models) {
          if (m.name == request.model) node = r.name;
        }
      }
    }
  }
  if (node != options_.self) return Open(f, node);
  // This node takes it over: its engine replays the committed tokens (their events skipped:
  // the sink has them) and generates the rest, committing them itself.
  std::function<void()> first;
  if (options_.on_handoff) {
    first = [on_handoff = options_.on_handoff, lost_at = f.lost_at, id = f.id] {
      const double seconds = Seconds(Clock::now() - lost_at);
      LogInfo("forwarded request taken over here").Kv("request", id).Kv("handoff_seconds", seconds);
      on_handoff(seconds);
    };
  }
  StatusOr<uint64_t> id = SubmitLocal(std::move(request), f.sink, f.tokens.size(), false, std::move(first));
  if (!id.ok()) return Fail(f, id.status());
  std::lock_guard<std::mutex> lock(mu_);
  --counters_.open_forwarded;
  auto it = forwarded_.find(f.id);  // Cancel goes to the local engine from now on
  retired_.push_back(std::move(it->second));
  forwarded_.erase(it);
}

void RoutingEngine::Fail(Forwarded& f, const Status& status) {
  f.ending = true;
  bool shutting_down = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down = stopping_;
  }
  if (options_.committer && !shutting_down) {
    const EndRecord end{f.id, FinishReason::kError, status.ToString()};
    const Status st = options_.committer->Commit({}, std::span<const EndRecord>(&end, 1));
    if (!st.ok()) LogError("cannot commit a forwarded request's end").Kv("request", f.id).Kv("error", st.ToString());
  }
  Deliver(f, FinishReason::kError, status, static_cast<int32_t>(f.request.prompt.size()),
          static_cast<int32_t>(f.tokens.size()));
}

void RoutingEngine::Deliver(Forwarded& f, FinishReason reason, const Status& status, int32_t prompt_tokens,
                            int32_t completion_tokens, int32_t cached_tokens) {
  FinishEvent ev;
  ev.finish_reason = reason;
  ev.status = status;
  ev.prompt_tokens = prompt_tokens;
  ev.completion_tokens = completion_tokens;
  ev.cached_tokens = cached_tokens;
  if (reason == FinishReason::kStop || reason == FinishReason::kLength) ev.text = f.decoder->FinishText();
  const Clock::time_point now = Clock::now();
  ev.latency.end_to_end_s = Seconds(now - f.submitted);
  if (f.first_token != Clock::time_point()) {
    ev.latency.time_to_first_token_s = Seconds(f.first_token - f.submitted);
    const size_t n = f.tokens.size() - f.request.committed.size();
    if (n >= 2) ev.latency.time_per_output_token_s = Seconds(f.last_token - f.first_token) / static_cast<double>(n - 1);
  }
  std::shared_ptr<RequestSink> sink = f.sink;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Uncount(f);
    if (reason == FinishReason::kError) ++counters_.failed;
    --counters_.open_forwarded;
    auto it = forwarded_.find(f.id);
    if (it != forwarded_.end()) {  // freed after this batch: later work finds nothing
      retired_.push_back(std::move(it->second));
      forwarded_.erase(it);
    }
  }
  sink->OnFinish(ev);
}

void RoutingEngine::Uncount(Forwarded& f) {
  if (!f.counted) return;
  f.counted = false;
  if (--open_by_node_[f.node] <= 0) open_by_node_.erase(f.node);
}

void RoutingEngine::CheckMembers() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // No batch is being applied: nothing points at them but a Submit still running.
    std::erase_if(retired_, [](const std::unique_ptr<Forwarded>& f) { return !f->submitting; });
  }
  if (!options_.members) return;
  std::set<std::string> members;
  for (const cluster::NodeRecord& r : options_.members()) members.insert(r.name);
  std::vector<uint64_t> lost;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (members.empty()) return;  // never reached etcd: nothing to compare with
    for (const auto& [id, f] : forwarded_) {
      if (f->counted && !members.count(f->node)) lost.push_back(f->stream);
    }
  }
  // Its lease expired (stopped, partitioned, dead): its streams are given up and resubmitted.
  for (uint64_t stream : lost) client_->Close(stream);
}

void RoutingEngine::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    for (const auto& [id, f] : forwarded_) {
      Work w;
      w.id = id;
      w.attempt = f->attempt;
      w.closed = true;
      w.why = Status::Unavailable("server shutting down");
      work_.push_back(std::move(w));
    }
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace hearth::daemon
