// The OpenAI stream of one request: turns its engine events into the chat.completion.chunk or
// text_completion chunks of its server-sent events, logprobs included. The one builder of
// chunks: a live request, a recovered one (its committed tokens replayed) and an ended one
// rebuilt from the store all go through it. The request registry records the chunks, and the
// live stream and every replay send what it recorded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "daemon/engine/engine.h"
#include "daemon/openai/openai_error.h"
#include "daemon/openai/openai_response.h"
#include "daemon/openai/tool_call_parser.h"
#include "daemon/requests/request_entry.h"

namespace hearth::daemon {

struct ChunkEncoderOptions {
  bool chat = true;  // chat.completion.chunk, else text_completion
  std::string model;
  int64_t created = 0;  // unix seconds
  bool logprobs = false;
  bool include_usage = false;
  int32_t choice_index = 0;  // the chunks' choices[0].index (a request with n > 1 choices)
  std::string id_scope{};      // RequestIdText's scope: this node's name in a cluster
  // Chat with tools: the text is read for calls in this format and streamed as tool_calls
  // deltas (tool_call_parser.h).
  ToolCallFormat tool_format = ToolCallFormat::kNone;
};

std::unique_ptr<EventEncoder> MakeChunkEncoder(ChunkEncoderOptions options);

// A request that ended without finishing: the engine's error, or a cancellation (the daemon
// is stopping, a client hung up, or someone cancelled it) as a 503.
ApiError UnfinishedError(const FinishEvent& finish);  // a cancelled one: 499, not retried

}  // namespace hearth::daemon
