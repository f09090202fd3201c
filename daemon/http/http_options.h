// Knobs of the HTTP server: threads, deadlines, connection caps.
#pragma once

#include <chrono>
#include <cstddef>

namespace hearth::http {

struct HttpServerOptions {
  int io_threads = 2;         // run the sockets, timers and inline routes
  int handler_threads = 64;   // run ordinary handlers and stream providers, which may block
  // The whole request head must arrive within this, however slowly it trickles (not per read).
  std::chrono::milliseconds header_deadline{10'000};
  std::chrono::milliseconds body_deadline{30'000};
  std::chrono::milliseconds keep_alive_idle{30'000};
  // A write that makes no progress this long (a client that stopped reading) closes the connection.
  std::chrono::milliseconds write_stall{60'000};
  size_t max_connections = 16384;
  size_t max_connections_per_ip = 4096;
  size_t max_target_bytes = 8 * 1024;
  size_t max_header_lines = 100;
  size_t max_header_bytes = 32 * 1024;
  // A stream's provider is not called while more than this waits to be written to its client.
  size_t stream_buffer_bytes = 1 << 20;
};

}  // namespace hearth::http
