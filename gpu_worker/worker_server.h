// The worker side of the daemon's socket: answers requests until told to stop
// or until the daemon goes away.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace hearth::worker {

struct WorkerOptions {
  int fd = -1;       // the worker's end of the daemon's socketpair
  int threads = 0;   // 0: all cores
  uint64_t kv_cache_mb = 256;  // KV cache per model when LoadModel asks for 0
  uint64_t pool_mb = 0;        // the page pool for weights and KV caches; 0: grows to the machine's memory
};

// Returns OK on a requested shutdown or when the daemon closes the socket.
Status ServeDaemon(const WorkerOptions& options);

// "cpu: 2 threads (avx512)" and the like.
std::string DescribeDevice(int threads);

}  // namespace hearth::worker
