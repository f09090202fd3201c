// What the store keeps of an API request so that recovery can run it again exactly: the
// generation parameters (sampling with its seed, max_tokens, stop strings, priority) and how
// the API answers it (endpoint, stream, logprobs, usage, created), as the JSON of the requests
// table's params column.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "daemon/engine/engine.h"

namespace hearth::daemon {

struct DurableParams {
  GenerationRequest gen;  // model, sampling, max_tokens, stop, priority (not prompt, id, committed)
  bool chat = true;       // chat.completions, else completions
  bool stream = false;
  bool logprobs = false;
  bool include_usage = false;
  int64_t created = 0;  // unix seconds, as the first response said
  // Anthropic's /v1/messages (chat underneath): recovery encodes its stream as Messages events.
  bool messages = false;
  // Chat with tools: how its text is read for calls (ToolCallFormatName); empty: not read.
  std::string tool_format{};
};

std::string EncodeDurableParams(const DurableParams& params);
// Corruption when the JSON is not what EncodeDurableParams wrote or its sampling parameters are
// not valid (SamplingParams::Validate), so the engine can trust what recovery submits. Leaves
// gen.model, gen.prompt and gen.id alone (they have columns of their own).
Status DecodeDurableParams(const std::string& json, DurableParams* params);

}  // namespace hearth::daemon
