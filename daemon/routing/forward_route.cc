#include "daemon/routing/forward_route.h"

#include <httplib.h>

#include <memory>
#include <mutex>

#include "common/log.h"
#include "daemon/api/auth.h"
#include "daemon/api/event_stream.h"
#include "daemon/routing/forward_wire.h"
#include "daemon/routing/route_choice.h"
#include "daemon/engine/engine.h"
#include "daemon/http/router.h"
#include "daemon/openai/openai_error.h"

namespace hearth::daemon {
namespace {

// The frames of one forwarded request, recorded as its engine produces them. The first
// `skip` token events are the replay of tokens the entry node already has.
class ForwardedOutput final : public RequestSink,
                              public ServedForwards::Progress,
                              public std::enable_shared_from_this<ForwardedOutput> {
 public:
  // `per_token`: this node's average cost per generated token now (may be empty).
  ForwardedOutput(size_t skip, std::function<double()> per_token) : per_token_(std::move(per_token)), skip_(skip) {}

  bool started() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return !frames_.empty();
  }
  void HandOff(const std::string& node) override {
    std::lock_guard<std::mutex> lock(mu_);
    next_node_ = node;
  }

  void OnToken(const TokenEvent& event) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (skip_ > 0) {
        --skip_;
        return;
      }
      frames_.push_back(EncodeTokenFrame(event.token));
      ++generated_;
    }
    Notify();
  }
  void OnFinish(const FinishEvent& event) override {
    const double per_token = per_token_ ? per_token_() : 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      frames_.push_back(EncodeFinishFrame(event, generated_, generated_ * per_token, next_node_));
      ended_ = true;
    }
    Notify();
  }

  EventsRead Read(uint64_t after) {
    std::lock_guard<std::mutex> lock(mu_);
    EventsRead out;
    for (uint64_t i = after; i < frames_.size(); ++i) out.events.push_back({i + 1, frames_[i]});
    out.done = ended_;
    return out;
  }
  bool ended() {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_;
  }
  void Subscribe(std::function<void()> waker) {
    bool now = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      waker_ = std::move(waker);
      now = !frames_.empty() || ended_;
    }
    if (now) Notify();
  }

 private:
  void Notify() {
    std::function<void()> waker;
    {
      std::lock_guard<std::mutex> lock(mu_);
      waker = waker_;
    }
    if (waker) waker();
  }

  const std::function<double()> per_token_;
  mutable std::mutex mu_;
  size_t skip_;                      // GUARDED_BY(mu_)
  int32_t generated_ = 0;            // GUARDED_BY(mu_): token frames sent
  std::vector<std::string> frames_;  // GUARDED_BY(mu_): frame k is event k + 1
  bool ended_ = false;               // GUARDED_BY(mu_)
  std::string next_node_;            // GUARDED_BY(mu_)
  std::function<void()> waker_;      // GUARDED_BY(mu_)
};

}  // namespace

void ServedForwards::Add(Request request, std::weak_ptr<Progress> progress) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = request.id;
  served_[id] = {std::move(request), std::move(progress)};
}

std::vector<ServedForwards::Request> ServedForwards::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Request> out;
  for (const auto& [id, e] : served_) out.push_back(e.request);
  return out;
}

void ServedForwards::Remove(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  served_.erase(id);
}

std::vector<uint64_t> ServedForwards::NotStarted() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<uint64_t> out;
  for (const auto& [id, e] : served_) {
    if (auto p = e.progress.lock(); p && !p->started()) out.push_back(id);
  }
  return out;
}

bool ServedForwards::HandOff(uint64_t id, const std::string& node) {
  std::shared_ptr<Progress> progress;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = served_.find(id);
    if (it == served_.end()) return false;
    progress = it->second.progress.lock();
  }
  if (!progress) return false;
  progress->HandOff(node);
  return true;
}

size_t ServedForwards::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return served_.size();
}

void RegisterForwardRoute(http::Router& router, ForwardRouteOptions options) {
  auto auth = std::make_shared<BearerAuth>(std::vector<std::string>{options.token});
  router.Post(kForwardPath, [options, auth](const httplib::Request& req, httplib::Response& res) {
    if (options.token.empty() || !auth->Allows(req.get_header_value("Authorization"))) {
      return SetError(res, 401, "node-to-node calls need the cluster token (HEARTH_CLUSTER_TOKEN)",
                    "authentication_error");
    }
    if (options.refusal) {
      if (std::string why = options.refusal(); !why.empty()) {
        res.set_header("Retry-After", "1");
        return SetError(res, 503, "this node takes no routed work: " + why, "server_error");
      }
    }
    StatusOr<ForwardRequest> fwd = DecodeForwardRequest(req.body);
    if (!fwd.ok()) return SetError(res, 400, fwd.status().message(), "invalid_request_error");
    Engine* engine = options.engine ? options.engine() : nullptr;
    if (!engine) return SetError(res, 503, "the engine is not running", "server_error");
    const model::Tokenizer* tokenizer = engine->tokenizer(fwd->model);
    if (!tokenizer) return SetError(res, 404, "model '" + fwd->model + "' not found", "invalid_request_error");
    for (const std::vector<int32_t>* ids : {&fwd->prompt, &fwd->committed}) {
      for (int32_t id : *ids) {
        if (id >= tokenizer->vocab_size()) {
          return SetError(res, 400, "forwarded request: token id " + std::to_string(id) + " is outside the vocabulary",
                        "invalid_request_error");
        }
      }
    }
    GenerationRequest gen;
    gen.model = fwd->model;
    gen.prompt = std::move(fwd->prompt);
    gen.sampling = fwd->sampling;
    gen.max_tokens = fwd->max_tokens;
    gen.stop = std::move(fwd->stop);
    gen.priority = fwd->priority;
    gen.durable = false;
    gen.committed.reserve(fwd->committed.size());
    for (int32_t id : fwd->committed) gen.committed.push_back({id, std::string(tokenizer->TokenBytes(id)), 0, {}});
    auto output = std::make_shared<ForwardedOutput>(gen.committed.size(), options.dollars_per_token);
    const std::string model = gen.model;
    const size_t prompt_tokens = gen.prompt.size();
    const size_t committed_tokens = gen.committed.size();
    const uint64_t prefix_hash = PrefixHash(gen.prompt);
    StatusOr<uint64_t> id = engine->Submit(std::move(gen), output);
    if (!id.ok()) return SetError(res, ErrorFromStatus(id.status()));
    LogDebug("serving a forwarded request").Kv("entry", fwd->entry).Kv("entry_id", fwd->entry_id).Kv("id", *id);
    res.set_header(http::kRequestIdHeader, std::to_string(*id));
    EventSource source;
    source.read = [output](uint64_t after, std::chrono::milliseconds) { return output->Read(after); };
    source.ended = [output] { return output->ended(); };
    source.with_ids = false;
    source.subscribe = [output](std::function<void()> waker) { output->Subscribe(std::move(waker)); };
    const uint64_t local_id = *id;
    if (options.served) {
      ServedForwards::Request served;
      served.id = local_id;
      served.model = model;
      served.prompt_tokens = static_cast<uint32_t>(prompt_tokens);
      served.prefix_hash = prefix_hash;
      served.committed_tokens = static_cast<uint32_t>(committed_tokens);
      options.served->Add(std::move(served), output);
      source.ended = [output, served = options.served, local_id] {
        const bool ended = output->ended();
        if (ended) served->Remove(local_id);
        return ended;
      };
    }
    ServeEvents(
        res, std::move(source),
        [engine, local_id, served = options.served] {
          engine->Cancel(local_id);
          if (served) served->Remove(local_id);
        },
        options.open_streams);
  });
}

}  // namespace hearth::daemon
