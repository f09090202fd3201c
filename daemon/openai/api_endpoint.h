// The two OpenAI generation endpoints Hearth serves.
#pragma once

namespace hearth::daemon {

enum class ApiEndpoint { kChatCompletions, kCompletions };

}  // namespace hearth::daemon
