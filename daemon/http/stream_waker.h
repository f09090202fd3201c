// Waking a stream whose provider had nothing to say. The server calls an idle stream's provider
// again only after a backoff (up to 100 ms); a provider that can learn when its data arrives
// takes the waker during a call and hands it to its source, so the next call comes at once.
#pragma once

#include <functional>

namespace hearth::http {

// Inside a stream provider's call: a function that, called from any thread at any later time,
// makes the server call that provider again soon (a no-op once the stream ended). Empty outside
// a provider call.
std::function<void()> CurrentStreamWaker();

}  // namespace hearth::http
