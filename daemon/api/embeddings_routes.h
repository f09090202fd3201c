// POST /v1/embeddings (OpenAI's shape, daemon/openai/embeddings_request.h): each input becomes
// an embedding request of the engine (GenerationRequest::pooling), batched and chunked with the
// generation requests of its model, and the pooled vectors come back in the inputs' order.
#pragma once

#include <functional>

namespace hearth::http {
class Router;
}

namespace hearth::daemon {

class Engine;

// `engine` is asked on every request; null, or a null result: 503.
void RegisterEmbeddingsRoutes(http::Router& server, std::function<Engine*()> engine);

}  // namespace hearth::daemon
