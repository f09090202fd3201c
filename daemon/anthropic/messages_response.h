// Anthropic's Messages answers: the message object of a non-streamed response, and the events of
// a streamed one (message_start, content_block_start, ping, content_block_delta,
// content_block_stop, message_delta, message_stop; error when a request ends unfinished). Every
// event's JSON starts with its "type", which is also its SSE event name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/engine/finish_reason.h"
#include "daemon/openai/openai_error.h"

namespace hearth::daemon {

// Which of `stop_sequences` ended a generation whose tokens spell `raw` (every generated token's
// bytes, the stop sequence included): the one whose first occurrence ends first. None when no
// stop sequence occurs (the model's end-of-turn token ended it).
std::optional<std::string> MatchedStopSequence(std::string_view raw, const std::vector<std::string>& stop_sequences);

struct MessageOutput {
  std::string id;     // "msg_<request id>"
  std::string model;
  std::string text;   // the answer, after any prefill
  FinishReason finish_reason = FinishReason::kStop;
  std::optional<std::string> stop_sequence;  // with kStop: the stop sequence that ended it
  int32_t input_tokens = 0;
  int32_t output_tokens = 0;
};

// "end_turn", "max_tokens" or "stop_sequence".
const char* StopReason(FinishReason reason, const std::optional<std::string>& stop_sequence);

// The non-streamed response body.
std::string MessageJson(const MessageOutput& out);

// The stream's events, each one's data.
std::string MessageStartEvent(const MessageOutput& out);  // content empty, output_tokens 0
std::string ContentBlockStartEvent();
std::string PingEvent();
std::string TextDeltaEvent(std::string_view text);
std::string ContentBlockStopEvent();
std::string MessageDeltaEvent(FinishReason reason, const std::optional<std::string>& stop_sequence,
                              int32_t output_tokens);
std::string MessageStopEvent();
std::string ErrorEvent(const ApiError& error);

// One event on the wire: "event: <type>\ndata: <data>\n\n", the type read from `data`.
std::string FormatMessageEvent(std::string_view data);

}  // namespace hearth::daemon
