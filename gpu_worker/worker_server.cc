#include "gpu_worker/worker_server.h"

#include <unistd.h>

#include <thread>

#include "common/log.h"
#include "common/worker_protocol.h"

namespace hearth::worker {

std::string DescribeDevice(int threads) {
  int n = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
  const char* isa = __builtin_cpu_supports("avx512f") ? "avx512" : __builtin_cpu_supports("avx2") ? "avx2" : "scalar";
  return "cpu: " + std::to_string(n) + " threads (" + isa + ")";
}

Status ServeDaemon(const WorkerOptions& options) {
  wire::WorkerHello hello;
  hello.pid = ::getpid();
  hello.backend = "cpu";
  hello.device = DescribeDevice(options.threads);
  HEARTH_RETURN_IF_ERROR(wire::WriteFrame(options.fd, wire::MessageType::kHello, wire::EncodeHello(hello)));
  for (;;) {
    StatusOr<wire::Frame> frame = wire::ReadFrame(options.fd);
    if (!frame.ok()) {
      if (frame.status().code() == Status::Code::kUnavailable) return Status::Ok();  // daemon went away
      return frame.status();
    }
    switch (frame->type) {
      case wire::MessageType::kPing:
        HEARTH_RETURN_IF_ERROR(wire::WriteFrame(options.fd, wire::MessageType::kPong, {}));
        break;
      case wire::MessageType::kShutdown:
        return Status::Ok();
      default: {
        std::string msg = "unexpected message type " + std::to_string(static_cast<int>(frame->type));
        HEARTH_RETURN_IF_ERROR(wire::WriteFrame(options.fd, wire::MessageType::kError,
                                                std::vector<uint8_t>(msg.begin(), msg.end())));
      }
    }
  }
}

}  // namespace hearth::worker
