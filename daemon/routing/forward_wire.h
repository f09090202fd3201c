// What one node sends another when it forwards a request (docs/cluster.md, "Routing"): the
// request as the engine takes it (token ids, sampling, the tokens its entry node already
// committed), and back, as server-sent events, each token the serving node sampled and the
// request's end. The serving node only generates; the entry node decodes, commits and streams.
// Whatever a peer sends is untrusted input: every decoder checks every field and bound.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "daemon/engine/engine.h"

namespace hearth::daemon {

// The path of the serving side's route, on the API port.
inline constexpr const char* kForwardPath = "/cluster/v1/generate";

struct ForwardRequest {
  std::string model;
  std::vector<int32_t> prompt;
  SamplingParams sampling;
  int32_t max_tokens = 16;
  std::vector<std::string> stop;
  int32_t priority = 0;
  std::vector<int32_t> committed;  // the ids of the tokens the entry node already committed
  std::string entry;               // the entry node's name, for the serving node's logs
  uint64_t entry_id = 0;           // the request's id there
};

std::string EncodeForwardRequest(const ForwardRequest& request);
// InvalidArgument naming the first bad field. Token ids are checked against the model's
// vocabulary by the caller, who knows it.
StatusOr<ForwardRequest> DecodeForwardRequest(std::string_view json);

// One server-sent event's data: a sampled token that is not a stop token, or the end.
struct ForwardFrame {
  bool is_finish = false;
  // A token: its id, logprob and top alternatives as the worker sampled them.
  int32_t token = 0;
  float logprob = 0;
  struct Alternative {
    int32_t token = 0;
    float logprob = 0;
  };
  std::vector<Alternative> top;
  // The end.
  FinishReason reason = FinishReason::kStop;
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  int32_t cached_tokens = 0;  // of prompt_tokens, from the serving node's prefix cache; 0 when unsaid
  Status::Code error_code = Status::Code::kOk;  // for kError
  std::string error;                            // for kError: the message
  // What the serving node generated for this call (the tokens it sent) and what they cost
  // there: that many tokens at its average cost per generated token (daemon/ops/cost.h). 0
  // from a node that does not say.
  int32_t generated_tokens = 0;
  double cost_dollars = 0;
  // A draining node that handed the request over: the node that has its KV blocks now, or that
  // its migration plan chose; the entry node resubmits it there. Empty: the entry chooses.
  std::string next_node;
};

std::string EncodeTokenFrame(const GeneratedToken& token);
// `generated_tokens`, `cost_dollars` and `next_node`: see ForwardFrame.
std::string EncodeFinishFrame(const FinishEvent& finish, int32_t generated_tokens = 0, double cost_dollars = 0,
                              const std::string& next_node = "");
StatusOr<ForwardFrame> DecodeForwardFrame(std::string_view json);
// The Status an end frame carries: OK unless its reason is kError.
Status FrameStatus(const ForwardFrame& frame);

}  // namespace hearth::daemon
