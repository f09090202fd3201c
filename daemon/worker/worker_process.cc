#include "daemon/worker/worker_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <thread>

#include "common/log.h"

namespace hearth::daemon {

StatusOr<wire::LoadStatus> WorkerConnection::BeginLoad(const wire::LoadModelRequest& request) {
  return Status::Unimplemented("this worker cannot load model '" + request.name + "' in the background");
}

StatusOr<wire::LoadStatus> WorkerConnection::PollLoad(const std::string& name) {
  return Status::Unimplemented("this worker cannot poll the load of model '" + name + "'");
}

StatusOr<wire::ModelInfo> WorkerConnection::FinishLoad(const std::string& name) {
  return Status::Unimplemented("this worker cannot finish the load of model '" + name + "'");
}

StatusOr<wire::ModelInfo> WorkerConnection::LoadModel(const wire::LoadModelRequest& request) {
  HEARTH_ASSIGN_OR_RETURN(wire::LoadStatus status, BeginLoad(request));
  while (!status.finished) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    HEARTH_ASSIGN_OR_RETURN(status, PollLoad(request.name));
  }
  return FinishLoad(request.name);
}

StatusOr<std::unique_ptr<WorkerProcess>> WorkerProcess::Spawn(const std::string& binary,
                                                              const std::vector<std::string>& extra_args) {
  if (::access(binary.c_str(), X_OK) != 0) {
    return Status::NotFound("worker binary '" + binary + "' is not executable: " + std::strerror(errno));
  }
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return Status::IOError(std::string("socketpair: ") + std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  std::vector<std::string> args = {binary, "serve", "--fd", std::to_string(fds[1])};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return Status::IOError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::fcntl(fds[1], F_SETFD, 0);  // keep the worker's end open across exec
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::unique_ptr<WorkerProcess> worker(new WorkerProcess(pid, fds[0]));
  StatusOr<wire::Frame> frame = wire::ReadFrame(fds[0]);
  if (!frame.ok()) return frame.status().WithContext("waiting for worker hello");
  if (frame->type != wire::MessageType::kHello) return Status::Corruption("worker's first message is not hello");
  HEARTH_ASSIGN_OR_RETURN(worker->hello_, wire::DecodeHello(frame->payload));
  LogInfo("worker started").Kv("pid", pid).Kv("backend", worker->hello_.backend).Kv("device", worker->hello_.device);
  return worker;
}

WorkerProcess::~WorkerProcess() { Stop(); }

Status WorkerProcess::Ping() {
  std::lock_guard<std::mutex> lock(mu_);
  if (reaped_) return Status::Unavailable("worker stopped");
  HEARTH_RETURN_IF_ERROR(wire::WriteFrame(fd_, wire::MessageType::kPing, {}));
  HEARTH_ASSIGN_OR_RETURN(wire::Frame frame, wire::ReadFrame(fd_));
  if (frame.type != wire::MessageType::kPong) return Status::Corruption("worker answered ping with something else");
  return Status::Ok();
}

StatusOr<wire::Frame> WorkerProcess::Call(wire::MessageType type, const std::vector<uint8_t>& payload,
                                          wire::MessageType expected) {
  std::lock_guard<std::mutex> lock(mu_);
  if (reaped_) return Status::Unavailable("worker stopped");
  HEARTH_RETURN_IF_ERROR(wire::WriteFrame(fd_, type, payload));
  const bool staging = type == wire::MessageType::kStageModel;
  const bool loading = type == wire::MessageType::kBeginLoad || type == wire::MessageType::kPollLoad ||
                       type == wire::MessageType::kFinishLoad;
  HEARTH_ASSIGN_OR_RETURN(wire::Frame frame, staging   ? ReadLoadFrame("staging")
                                             : loading ? ReadLoadFrame("loading")
                                                       : wire::ReadFrame(fd_));
  while (staging && frame.type == wire::MessageType::kProgress) {  // before a stage's reply
    HEARTH_ASSIGN_OR_RETURN(wire::Progress progress, wire::DecodeProgress(frame.payload));
    Hear(progress);
    HEARTH_ASSIGN_OR_RETURN(frame, ReadLoadFrame("staging"));
  }
  if (frame.type == wire::MessageType::kError) return Status::Internal("worker: " + wire::DecodeError(frame.payload));
  if (frame.type != expected) {
    return Status::Corruption("worker answered with message type " + std::to_string(static_cast<int>(frame.type)));
  }
  return frame;
}

StatusOr<wire::Frame> WorkerProcess::ReadLoadFrame(const std::string& what) {
  pollfd p{fd_, POLLIN, 0};
  const int ms = static_cast<int>(std::min<int64_t>(load_stall_limit_.count(), INT32_MAX));
  int ready;
  do {
    ready = ::poll(&p, 1, ms);
  } while (ready < 0 && errno == EINTR);
  if (ready == 0) {
    LogError("worker stalled; killing it").Kv("pid", pid_).Kv("while", what).Kv("stall_ms", ms);
    ::kill(pid_, SIGKILL);  // the socket closes; the supervisor starts another on the next step
    return Status::Unavailable("hearth-worker sent nothing for " + std::to_string(ms) + " ms while " + what +
                               " a model (a stalled file system?); it was killed");
  }
  return wire::ReadFrame(fd_);
}

void WorkerProcess::Hear(const wire::Progress& progress) {
  std::lock_guard<std::mutex> lock(listener_mu_);
  if (listener_) listener_(progress);
}

Status WorkerProcess::OnLoadStatus(const wire::LoadStatus& status) {
  const auto now = std::chrono::steady_clock::now();
  bool stalled = false;
  {
    std::lock_guard<std::mutex> lock(listener_mu_);
    if (listener_) listener_({status.name, status.done, status.total});
    auto [it, fresh] = loads_.try_emplace(status.name, LoadSeen{status.done, now});
    if (status.finished) {
      loads_.erase(it);
    } else if (fresh || it->second.done != status.done) {
      it->second = {status.done, now};
    } else {
      stalled = now - it->second.since > load_stall_limit_;
    }
  }
  if (!stalled) return Status::Ok();
  const int64_t ms = load_stall_limit_.count();
  LogError("worker stalled; killing it").Kv("pid", pid_).Kv("while", "loading").Kv("stall_ms", ms);
  ::kill(pid_, SIGKILL);  // the socket closes; the supervisor starts another on the next step
  std::lock_guard<std::mutex> lock(listener_mu_);
  loads_.erase(status.name);
  return Status::Unavailable("hearth-worker read nothing of model '" + status.name + "' for " + std::to_string(ms) +
                             " ms (a stalled file system?); it was killed");
}

StatusOr<wire::LoadStatus> WorkerProcess::BeginLoad(const wire::LoadModelRequest& request) {
  HEARTH_ASSIGN_OR_RETURN(wire::Frame frame, Call(wire::MessageType::kBeginLoad, wire::EncodeLoadModel(request),
                                                  wire::MessageType::kLoadStatus));
  HEARTH_ASSIGN_OR_RETURN(wire::LoadStatus status, wire::DecodeLoadStatus(frame.payload));
  if (status.name != request.name) return Status::Corruption("worker answered the load of another model");
  if (status.finished) return status;  // a swap-in, or loaded already: no file read to hear of
  HEARTH_RETURN_IF_ERROR(OnLoadStatus(status));
  return status;
}

StatusOr<wire::LoadStatus> WorkerProcess::PollLoad(const std::string& name) {
  StatusOr<wire::Frame> frame =
      Call(wire::MessageType::kPollLoad, wire::EncodeModelName(name), wire::MessageType::kLoadStatus);
  StatusOr<wire::LoadStatus> status = frame.ok() ? wire::DecodeLoadStatus(frame->payload) : frame.status();
  if (status.ok() && status->name != name) status = Status::Corruption("worker answered the poll of another model");
  if (!status.ok()) {
    std::lock_guard<std::mutex> lock(listener_mu_);
    loads_.erase(name);  // the load is over
    return status;
  }
  HEARTH_RETURN_IF_ERROR(OnLoadStatus(*status));
  return status;
}

StatusOr<wire::ModelInfo> WorkerProcess::FinishLoad(const std::string& name) {
  {
    std::lock_guard<std::mutex> lock(listener_mu_);
    loads_.erase(name);
  }
  HEARTH_ASSIGN_OR_RETURN(wire::Frame frame, Call(wire::MessageType::kFinishLoad, wire::EncodeModelName(name),
                                                  wire::MessageType::kModelInfo));
  HEARTH_ASSIGN_OR_RETURN(wire::ModelInfo info, wire::DecodeModelInfo(frame.payload));
  if (info.name != name) return Status::Corruption("worker finished the load of another model");
  return info;
}

StatusOr<wire::StepReply> WorkerProcess::Step(const wire::StepRequest& request) {
  HEARTH_ASSIGN_OR_RETURN(wire::Frame frame,
                          Call(wire::MessageType::kStep, wire::EncodeStep(request), wire::MessageType::kStepReply));
  return wire::DecodeStepReply(frame.payload);
}

Status WorkerProcess::UnloadModel(const std::string& name) {
  return Call(wire::MessageType::kUnloadModel, wire::EncodeUnloadModel(name), wire::MessageType::kModelUnloaded)
      .status();
}

StatusOr<wire::StagedInfo> WorkerProcess::StageModel(const wire::LoadModelRequest& request) {
  HEARTH_ASSIGN_OR_RETURN(wire::Frame frame, Call(wire::MessageType::kStageModel, wire::EncodeLoadModel(request),
                                                  wire::MessageType::kModelStaged));
  return wire::DecodeStagedInfo(frame.payload);
}

StatusOr<wire::KvBlocks> WorkerConnection::ReadKvBlocks(const wire::KvBlocksRead& request) {
  return Status::Unimplemented("this worker cannot read KV blocks of model '" + request.model + "'");
}

Status WorkerConnection::WriteKvBlocks(const wire::KvBlocksWrite& request) {
  return Status::Unimplemented("this worker cannot write KV blocks of model '" + request.model + "'");
}

StatusOr<wire::KvBlocks> WorkerProcess::ReadKvBlocks(const wire::KvBlocksRead& request) {
  HEARTH_ASSIGN_OR_RETURN(wire::Frame frame, Call(wire::MessageType::kReadKvBlocks, wire::EncodeKvBlocksRead(request),
                                                  wire::MessageType::kKvBlocks));
  HEARTH_ASSIGN_OR_RETURN(wire::KvBlocks blocks, wire::DecodeKvBlocks(frame.payload));
  if (blocks.data.size() != request.blocks.size() * blocks.bytes_per_block) {
    return Status::Corruption("the worker sent " + std::to_string(blocks.data.size()) + " bytes for " +
                              std::to_string(request.blocks.size()) + " KV blocks");
  }
  return blocks;
}

Status WorkerProcess::WriteKvBlocks(const wire::KvBlocksWrite& request) {
  return Call(wire::MessageType::kWriteKvBlocks, wire::EncodeKvBlocksWrite(request), wire::MessageType::kKvWritten)
      .status();
}

void WorkerProcess::Stop(int grace_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  if (reaped_) return;
  (void)wire::WriteFrame(fd_, wire::MessageType::kShutdown, {});
  ::close(fd_);
  fd_ = -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      LogWarn("worker did not exit in time; killing").Kv("pid", pid_);
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  reaped_ = true;
  LogInfo("worker stopped").Kv("pid", pid_).Kv("status", status);
}

}  // namespace hearth::daemon
