// POST /tokenize and POST /detokenize (vLLM's shapes, daemon/openai/tokenize_request.h) with the
// served models' tokenizers: what a prompt costs in tokens before sending it, and token ids
// back to text.
#pragma once

#include <functional>

namespace hearth::http {
class Router;
}

namespace hearth::daemon {

class Engine;

// `engine` is asked on every request; null, or a null result: 503.
void RegisterTokenizeRoutes(http::Router& server, std::function<Engine*()> engine);

}  // namespace hearth::daemon
