// The Anthropic stream of one request: turns its engine events into Messages stream events
// (messages_response.h). Like the OpenAI chunk encoder it is what the request's entry records,
// so the live stream and GET /v1/requests/{id}/events send the same events.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/anthropic/messages_response.h"
#include "daemon/requests/request_entry.h"
#include "model/tokenizer.h"

namespace hearth::daemon {

struct MessageStreamOptions {
  std::string model;
  std::string id_scope{};  // RequestIdText's scope
  int32_t input_tokens = 0;
  std::vector<std::string> stop_sequences{};  // to name the one that matched
};

std::unique_ptr<EventEncoder> MakeMessageEncoder(MessageStreamOptions options);

// The non-streamed answer of a finished request, from what its entry recorded; `tokenizer`
// spells its tokens to find the stop sequence that ended it.
MessageOutput MessageOf(const RequestInfo& info, const std::string& id_scope, const model::Tokenizer& tokenizer,
                        const std::vector<std::string>& stop_sequences);

// A Messages id: "msg_" and the request id.
std::string MessageId(const std::string& id_scope, uint64_t request_id);

}  // namespace hearth::daemon
