#include "gpu_worker/worker_server.h"

#include <unistd.h>

#include <thread>

#include "common/log.h"
#include "common/worker_protocol.h"
#include "gpu_worker/step_executor.h"

namespace hearth::worker {

std::string DescribeDevice(int threads) {
  int n = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
  const char* isa = __builtin_cpu_supports("avx512f") ? "avx512" : __builtin_cpu_supports("avx2") ? "avx2" : "scalar";
  return "cpu: " + std::to_string(n) + " threads (" + isa + ")";
}

namespace {

Status Reply(int fd, const Status& error) {
  return wire::WriteFrame(fd, wire::MessageType::kError, wire::EncodeError(error.ToString()));
}

// Answers one request frame; only a socket failure is returned.
Status Answer(int fd, const wire::Frame& frame, StepExecutor& executor) {
  switch (frame.type) {
    case wire::MessageType::kPing:
      return wire::WriteFrame(fd, wire::MessageType::kPong, {});
    case wire::MessageType::kBeginLoad: {
      StatusOr<wire::LoadModelRequest> req = wire::DecodeLoadModel(frame.payload);
      if (!req.ok()) return Reply(fd, req.status());
      StatusOr<wire::LoadStatus> status = executor.BeginLoad(*req);
      if (!status.ok()) {
        LogError("model load failed").Kv("name", req->name).Kv("error", status.status().ToString());
        return Reply(fd, status.status());
      }
      return wire::WriteFrame(fd, wire::MessageType::kLoadStatus, wire::EncodeLoadStatus(*status));
    }
    case wire::MessageType::kPollLoad: {
      StatusOr<std::string> name = wire::DecodeModelName(frame.payload);
      if (!name.ok()) return Reply(fd, name.status());
      StatusOr<wire::LoadStatus> status = executor.PollLoad(*name);
      if (!status.ok()) return Reply(fd, status.status());
      return wire::WriteFrame(fd, wire::MessageType::kLoadStatus, wire::EncodeLoadStatus(*status));
    }
    case wire::MessageType::kFinishLoad: {
      StatusOr<std::string> name = wire::DecodeModelName(frame.payload);
      if (!name.ok()) return Reply(fd, name.status());
      StatusOr<wire::ModelInfo> info = executor.FinishLoad(*name);
      if (!info.ok()) {
        LogError("model load failed").Kv("name", *name).Kv("error", info.status().ToString());
        return Reply(fd, info.status());
      }
      return wire::WriteFrame(fd, wire::MessageType::kModelInfo, wire::EncodeModelInfo(*info));
    }
    case wire::MessageType::kStageModel: {
      StatusOr<wire::LoadModelRequest> req = wire::DecodeLoadModel(frame.payload);
      if (!req.ok()) return Reply(fd, req.status());
      StatusOr<wire::StagedInfo> info = executor.StageModel(*req);
      if (!info.ok()) {
        LogError("model staging failed").Kv("name", req->name).Kv("error", info.status().ToString());
        return Reply(fd, info.status());
      }
      return wire::WriteFrame(fd, wire::MessageType::kModelStaged, wire::EncodeStagedInfo(*info));
    }
    case wire::MessageType::kUnloadModel: {
      StatusOr<std::string> name = wire::DecodeUnloadModel(frame.payload);
      if (!name.ok()) return Reply(fd, name.status());
      executor.UnloadModel(*name);
      return wire::WriteFrame(fd, wire::MessageType::kModelUnloaded, {});
    }
    case wire::MessageType::kStep: {
      StatusOr<wire::StepRequest> req = wire::DecodeStep(frame.payload);
      if (!req.ok()) return Reply(fd, req.status());
      StatusOr<wire::StepReply> reply = executor.Step(*req);
      if (!reply.ok()) return Reply(fd, reply.status());
      return wire::WriteFrame(fd, wire::MessageType::kStepReply, wire::EncodeStepReply(*reply));
    }
    case wire::MessageType::kReadKvBlocks: {
      StatusOr<wire::KvBlocksRead> req = wire::DecodeKvBlocksRead(frame.payload);
      if (!req.ok()) return Reply(fd, req.status());
      StatusOr<wire::KvBlocks> blocks = executor.ReadKvBlocks(*req);
      if (!blocks.ok()) return Reply(fd, blocks.status());
      return wire::WriteFrame(fd, wire::MessageType::kKvBlocks, wire::EncodeKvBlocks(*blocks));
    }
    case wire::MessageType::kWriteKvBlocks: {
      StatusOr<wire::KvBlocksWrite> req = wire::DecodeKvBlocksWrite(frame.payload);
      if (!req.ok()) return Reply(fd, req.status());
      if (Status st = executor.WriteKvBlocks(*req); !st.ok()) return Reply(fd, st);
      return wire::WriteFrame(fd, wire::MessageType::kKvWritten, {});
    }
    default:
      return Reply(fd,
                   Status::InvalidArgument("unexpected message type " + std::to_string(static_cast<int>(frame.type))));
  }
}

}  // namespace

Status ServeDaemon(const WorkerOptions& options) {
  StepExecutor executor(options.threads, options.kv_cache_mb << 20, options.pool_mb << 20);
  // A stage's progress goes out as frames before its reply (a load's is polled); a failed write
  // shows again at the reply.
  executor.set_progress([fd = options.fd](const std::string& name, uint64_t done, uint64_t total) {
    (void)wire::WriteFrame(fd, wire::MessageType::kProgress, wire::EncodeProgress({name, done, total}));
  });
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
    if (frame->type == wire::MessageType::kShutdown) return Status::Ok();
    HEARTH_RETURN_IF_ERROR(Answer(options.fd, *frame, executor));
  }
}

}  // namespace hearth::worker
