// The Engine a cluster node's API submits to (docs/cluster.md, "Routing"): it picks the node
// that serves each request (route_choice.h) and either submits it to this node's engine or
// forwards it to the peer. A forwarded request stays this node's: its tokens arrive from the
// peer, are committed to this node's store (the commit rule holds here, the entry node) and
// only then reach the request's sink. When the peer dies, breaks the stream, goes silent or
// leaves the cluster, the request goes to another node (or this one) with the tokens committed
// so far, and its stream continues where it stopped: sampling depends only on the seed and the
// position, so the text is the one an uninterrupted run gives.
//
// One thread of its own applies what the forwarding client's I/O threads receive: it decodes,
// commits every token that arrived from every stream in one transaction, then delivers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster/node_record.h"
#include "daemon/routing/forward_client.h"
#include "daemon/routing/forward_wire.h"
#include "daemon/routing/route_choice.h"
#include "daemon/engine/engine.h"
#include "daemon/engine/output_decoder.h"
#include "daemon/engine/token_committer.h"

namespace hearth::daemon {

struct RoutingOptions {
  std::string self;   // this node's name
  std::string token;  // the cluster token, sent to peers
  // The cluster as this node sees it now: every member's record, this node's included. Empty
  // when this node is alone or has never reached etcd: everything is served here.
  std::function<std::vector<cluster::NodeRecord>()> members;
  // Makes a forwarded request's tokens and end durable before its sink sees them (must outlive
  // the engine); null: nothing is stored.
  TokenCommitter* committer = nullptr;
  int32_t max_attempts = 4;  // nodes one request may be sent to before it fails
  // How long Submit waits for the first peer's answer: a peer that refuses (its queue is full,
  // it is draining) is replaced by another node before Submit returns, so a full cluster
  // answers 429 at once. A peer silent for longer keeps the request; its failure, if it comes,
  // resubmits it later.
  std::chrono::milliseconds admission_timeout{2000};
  std::chrono::milliseconds check_every{500};  // how often open streams are checked against the members
  int64_t balance_slack = 4;
  // True: a request that lost its node goes to the next without its committed tokens and is
  // generated again from its prompt (the tokens its client has are regenerated, checked and
  // dropped). A baseline for measuring what carrying them saves; never for this node's own
  // engine, which would commit them twice.
  bool restart_on_loss = false;
  // A request that lost its node got its next token, `seconds` after the loss (may be empty).
  std::function<void(double seconds)> on_handoff;
};

struct RoutingCounters {
  int64_t routed_local = 0;   // submitted to this node's engine when they arrived
  int64_t forwarded = 0;      // sent to a peer when they arrived
  int64_t resubmitted = 0;    // sent again, to another node, after their node failed them
  int64_t failed = 0;         // forwarded requests that ended in an error
  int64_t open_forwarded = 0; // forwarded requests not ended
};

class RoutingEngine final : public Engine {
 public:
  // `local` and `client` must outlive the engine.
  RoutingEngine(Engine* local, ForwardClient* client, RoutingOptions options);
  ~RoutingEngine() override;  // Stop()

  const model::Tokenizer* tokenizer(const std::string& model) const override { return local_->tokenizer(model); }
  int32_t context_length(const std::string& model) const override { return local_->context_length(model); }
  int32_t embedding_size(const std::string& model) const override { return local_->embedding_size(model); }
  // NotFound for a model this node does not know (it tokenizes every request, so every model
  // it routes is in its catalogue). A forwarded request needs an id (the journal's).
  StatusOr<uint64_t> Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) override;
  void Cancel(uint64_t id) override;
  // This node's engine's: forwarded requests are counted by the peers that run them.
  EngineStats Stats() const override { return local_->Stats(); }
  // This node's queue when it is alone; in a cluster a full node forwards, so OK.
  Status CheckAdmission(const std::string& model, int64_t prompt_tokens) override;

  RoutingCounters counters() const;
  // Ends every forwarded request with "server shutting down", without recording the end (a
  // restart resumes them here), and joins the thread. Safe to call twice.
  void Stop();

 private:
  class StreamHandler;
  struct Forwarded {
    uint64_t id = 0;
    GenerationRequest request;  // as submitted; `committed` is `tokens` at each resubmission
    std::shared_ptr<RequestSink> sink;
    std::optional<OutputDecoder> decoder;
    std::vector<GeneratedToken> tokens;  // committed, in order
    size_t regenerate = 0;               // restart_on_loss: tokens the new node generates again first
    std::string node;                    // serving it now
    uint64_t stream = 0;                 // the forwarding client's
    int32_t attempt = 0;                 // streams opened so far; events of older ones are dropped
    std::set<std::string> tried;         // nodes that failed it
    std::string next_node;               // where the node that gave it up handed it (its KV blocks may be there)
    bool stopped = false;                // a stop string matched: tokens that follow are ignored
    bool ending = false;                 // its end (or cancel) is in the batch being applied
    bool counted = false;                // open_by_node_ counts it on `node`
    // Submit waits for the first answer (kWaiting) of each node it tries; a refusal comes back
    // to it, not to the routing thread.
    enum class Admission { kWaiting, kAdmitted, kRefused, kAsync };
    Admission admission = Admission::kWaiting;  // GUARDED_BY(mu_)
    bool submitting = true;  // GUARDED_BY(mu_): Submit still uses it; not freed before
    Status refused_why;                         // GUARDED_BY(mu_): kRefused
    int refused_status = 0;
    std::string refused_body;
    std::chrono::steady_clock::time_point submitted, first_token, last_token;
    std::chrono::steady_clock::time_point lost_at;  // its node failed it; cleared by the next token
  };
  // What the I/O threads hand the routing thread.
  struct Work {
    uint64_t id = 0;
    int32_t attempt = 0;
    std::vector<std::string> events;
    bool closed = false;
    Status why;
    int http_status = 0;
    std::string error_body;
    bool cancel = false;  // Cancel(): end it
  };
  // One thing to do for a request, in the order it arrived; tokens and ends wait for the
  // batch's commit.
  struct Pending {
    enum class Kind { kToken, kEnd, kCancel, kClosed };
    Kind kind = Kind::kToken;
    Forwarded* f = nullptr;
    GeneratedToken token;                       // kToken
    FinishReason reason = FinishReason::kStop;  // kEnd
    Status status;                              // kEnd: the peer's error; kClosed: why
    int32_t prompt_tokens = 0, completion_tokens = 0;  // kEnd
    int32_t cached_tokens = 0;                         // kEnd
    int http_status = 0;                        // kClosed
    std::string error_body;                     // kClosed
  };

  // The node for `request` among the members, `tried` excluded; empty or self_: this node.
  std::string Choose(const GenerationRequest& request, const std::set<std::string>& tried) const;
  // Submits to this node's engine; `skip` token events (the sink has them) are dropped.
  // `arrival`: the request just arrived (counted as routed here), not taken over.
  // `first` (may be empty) runs at its first event handed on.
  StatusOr<uint64_t> SubmitLocal(GenerationRequest request, std::shared_ptr<RequestSink> sink, size_t skip,
                                 bool arrival, std::function<void()> first = nullptr);
  // Drops a forwarded request that never went out.
  void Forget(uint64_t id);
  // Opens a stream to `node` for `f` (on any thread; `f` is owned by forwarded_).
  void Open(Forwarded& f, const std::string& node);
  void Push(Work work);
  // From a stream's handler: its status line, its close.
  void Admitted(uint64_t id, int32_t attempt, int http_status);
  void Closed(Work work);
  void Run();
  void Apply(std::vector<Work>& batch);
  // A stream broke or a peer gave up: another node, this one, or the end.
  void Resubmit(Forwarded& f, const Status& why, int http_status, const std::string& error_body);
  // Ends `f`: its end is committed (unless shutting down), then its sink hears of it.
  // Sink only: its end is committed already (or must not be).
  void Deliver(Forwarded& f, FinishReason reason, const Status& status, int32_t prompt_tokens,
               int32_t completion_tokens, int32_t cached_tokens = 0);
  // Commits `f`'s end (unless shutting down), then delivers it; the routing thread.
  void Fail(Forwarded& f, const Status& status);
  // Takes `f` out: its stream no longer counts on its node. Erased from forwarded_ by the caller.
  void Uncount(Forwarded& f);  // REQUIRES(mu_)
  void CheckMembers();
  std::optional<cluster::NodeRecord> Member(const std::string& node) const;

  Engine* const local_;
  ForwardClient* const client_;
  const RoutingOptions options_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable admission_;  // a waiting admission was answered
  std::deque<Work> work_;                                   // GUARDED_BY(mu_)
  std::map<uint64_t, std::unique_ptr<Forwarded>> forwarded_;  // GUARDED_BY(mu_) for the map; entries: routing thread
  std::map<std::string, int64_t> open_by_node_;              // GUARDED_BY(mu_)
  RoutingCounters counters_;                                  // GUARDED_BY(mu_)
  bool stopping_ = false;                                     // GUARDED_BY(mu_)
  // Ended in the batch being applied, whose later work may still point at them.
  std::vector<std::unique_ptr<Forwarded>> retired_;           // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace hearth::daemon
