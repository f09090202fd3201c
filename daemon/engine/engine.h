// The daemon's view of generation: submit a tokenized request for a model,
// receive its tokens and text as they are produced, cancel it.
//
// One engine loop per worker owns a BatchScheduler and, every iteration,
// schedules a batch, sends it to the worker as a Step, and hands the sampled
// tokens to each request's sink (after detokenizing and stop-string
// matching, which happen here because the daemon holds the tokenizer).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/pooling.h"
#include "common/status.h"
#include "daemon/engine/finish_reason.h"
#include "daemon/engine/generated_token.h"
#include "sampling/sampling_params.h"

namespace hearth::model {
class Tokenizer;
}

namespace hearth::daemon {

struct GenerationRequest {
  std::string model;                 // a model name the engine has loaded
  std::vector<int32_t> prompt;       // token ids, already templated and tokenized
  SamplingParams sampling;           // validated by the caller
  int32_t max_tokens = 16;           // > 0
  std::vector<std::string> stop;     // stop strings (bounds: sampling/stop_matcher.h)
  int32_t priority = 0;              // lower runs first
  // 0: the engine picks the id. Else the id the durable layer stored the request under (never
  // used before, and never an id still running).
  uint64_t id = 0;
  // Recovery: the tokens this request generated before a restart. The engine replays them
  // (their events reach the sink again, but are not committed again) and generation continues
  // after them; max_tokens counts them.
  std::vector<GeneratedToken> committed;
  // False: the engine commits none of this request's tokens or its end (a request another
  // node forwarded here: that node, its entry, stores them).
  bool durable = true;
  // Not kNone: an embedding request. The prompt is run (every position computed, none taken
  // from the prefix cache), nothing is sampled and no token event is sent; FinishEvent::embedding
  // carries the pooled vector. The prompt alone must fit the context; max_tokens, sampling and
  // stop are ignored. Never durable: there is nothing to replay, so after a worker restart it is
  // simply run again.
  Pooling pooling = Pooling::kNone;
};

// One generated token that is not a stop token, and the text it released.
struct TokenEvent {
  GeneratedToken token;
  std::string text;  // text that became safe to show with this token (may be empty)
};

// One request's latencies, measured by the engine from Submit(); negative where the request
// never got that far (no token yet, or fewer than two for the time per output token).
struct RequestLatency {
  double queue_s = -1;                  // Submit -> first scheduled
  double time_to_first_token_s = -1;    // Submit -> first sampled token
  double time_per_output_token_s = -1;  // mean gap between sampled tokens
  double end_to_end_s = -1;             // Submit -> finish
};

struct FinishEvent {
  FinishReason finish_reason = FinishReason::kStop;
  Status status;  // non-OK for kError
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  // Text held back until the end (a possible stop-string prefix, say) and
  // released by a finish without a token of its own, such as the model's
  // end-of-sequence token: send it before finishing. Usually empty.
  std::string text;
  RequestLatency latency;
  int32_t cached_tokens = 0;  // of prompt_tokens, served by the prefix cache (not computed again)
  std::vector<float> embedding = {};  // an embedding request that finished (kStop): [hidden size]
};

// Receives one request's events on the engine's thread; must not block.
class RequestSink {
 public:
  virtual ~RequestSink() = default;
  virtual void OnToken(const TokenEvent& event) = 0;
  virtual void OnFinish(const FinishEvent& event) = 0;  // called exactly once, last
  // The request waits for its model to be loaded (true), or no longer does (false); only
  // before its first token.
  virtual void OnModelLoading(bool loading) { (void)loading; }
  // The node that serves it (in a cluster: this one, or the peer it was forwarded to), each
  // time that changes; any thread.
  virtual void OnServedBy(const std::string& node) { (void)node; }
  // In a cluster: a peer that served it for a while generated `tokens` of its tokens, which
  // cost `dollars` there (its average cost per generated token); once per such stretch, any
  // thread.
  virtual void OnRemoteCost(int32_t tokens, double dollars) {
    (void)tokens;
    (void)dollars;
  }
};

// One model's part of EngineStats (/metrics labels it `model`). A model's prefix-cache counts
// start again from 0 when it is loaded again; its token count does not.
struct ModelEngineStats {
  int64_t num_waiting = 0;            // in its scheduler: new or preempted
  int64_t num_waiting_for_model = 0;  // accepted, waiting for the model to be warm (PlacingEngine)
  int64_t num_running = 0;
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_free = 0;
  int64_t tokens_generated = 0;
  int64_t prefix_cache_queried_blocks = 0;
  int64_t prefix_cache_hit_blocks = 0;
};

struct EngineStats {
  int64_t num_waiting = 0;
  int64_t num_running = 0;
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_free = 0;
  int64_t tokens_generated = 0;
  int64_t prefix_cache_queried_blocks = 0;  // full prompt blocks looked up in the prefix cache
  int64_t prefix_cache_hit_blocks = 0;      // of those, found there
  std::map<std::string, ModelEngineStats> models;  // the same by model (any that generated or is loaded)
};

class Engine {
 public:
  virtual ~Engine() = default;
  // The tokenizer of a loaded model, or null.
  virtual const model::Tokenizer* tokenizer(const std::string& model) const = 0;
  // The model's context length in tokens (0 when unknown).
  virtual int32_t context_length(const std::string& model) const = 0;
  // The length of the model's embeddings (its hidden size); 0 when unknown (not warm here).
  virtual int32_t embedding_size(const std::string& model) const {
    (void)model;
    return 0;
  }
  // Queues a request; the sink gets its events. InvalidArgument for an unknown
  // model or a prompt that does not fit the context; ResourceExhausted when the
  // queue is full.
  virtual StatusOr<uint64_t> Submit(GenerationRequest request, std::shared_ptr<RequestSink> sink) = 0;
  // Stops a request: its sink gets OnFinish(kCancelled) and its KV blocks are
  // freed. Unknown or finished ids are ignored.
  virtual void Cancel(uint64_t id) = 0;
  virtual EngineStats Stats() const = 0;
  // A cheap look before a request is stored: ResourceExhausted when Submit would refuse it now
  // because a queue is full, so that overload answers 429 without a write to the store. Not a
  // reservation: Submit still decides. OK by default.
  virtual Status CheckAdmission(const std::string& model, int64_t prompt_tokens) {
    (void)model;
    (void)prompt_tokens;
    return Status::Ok();
  }
};

}  // namespace hearth::daemon
