// The binary protocol between hearthd and hearth-worker over a Unix socket.
//
// Every message is a frame: u32 payload length (little-endian), u8 message
// type, then the payload. The daemon sends requests; the worker answers each
// with exactly one reply, in order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace hearth::wire {

enum class MessageType : uint8_t {
  kHello = 1,     // worker -> daemon, first message: WorkerHello
  kPing = 2,      // daemon -> worker, empty
  kPong = 3,      // worker -> daemon, empty
  kShutdown = 4,  // daemon -> worker, empty; the worker exits 0
  kError = 5,     // worker -> daemon: a UTF-8 message
};

// Largest frame either side accepts; a larger length is a protocol error.
inline constexpr uint32_t kMaxFrameBytes = 64u << 20;

struct Frame {
  MessageType type;
  std::vector<uint8_t> payload;
};

struct WorkerHello {
  uint32_t protocol_version = 1;
  int32_t pid = 0;
  std::string backend;  // "cpu" or "cuda"
  std::string device;   // human-readable, e.g. "cpu: 2 threads (avx512)"
};

// Blocking frame I/O on a socket file descriptor. EOF is Unavailable.
Status WriteFrame(int fd, MessageType type, const std::vector<uint8_t>& payload);
StatusOr<Frame> ReadFrame(int fd);

// A little-endian byte writer and a bounds-checked reader for payloads.
class PayloadWriter {
 public:
  void U32(uint32_t v);
  void I32(int32_t v) { U32(static_cast<uint32_t>(v)); }
  void U64(uint64_t v);
  void Str(const std::string& s);
  std::vector<uint8_t> Take() { return std::move(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

class PayloadReader {
 public:
  explicit PayloadReader(const std::vector<uint8_t>& bytes) : bytes_(bytes) {}
  StatusOr<uint32_t> U32();
  StatusOr<int32_t> I32();
  StatusOr<uint64_t> U64();
  StatusOr<std::string> Str();
  bool AtEnd() const { return pos_ == bytes_.size(); }

 private:
  const std::vector<uint8_t>& bytes_;
  size_t pos_ = 0;
};

std::vector<uint8_t> EncodeHello(const WorkerHello& hello);
StatusOr<WorkerHello> DecodeHello(const std::vector<uint8_t>& payload);

}  // namespace hearth::wire
