// The OpenAI endpoints whose request fields daemon/openai/request_fields.cc lists: the two
// generation endpoints, and /v1/embeddings (which the generation paths never see).
#pragma once

namespace hearth::daemon {

enum class ApiEndpoint { kChatCompletions, kCompletions, kEmbeddings };

}  // namespace hearth::daemon
