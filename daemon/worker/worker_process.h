// A hearth-worker child process and the Unix socket to it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/worker_protocol.h"

namespace hearth::daemon {

// The requests the engine loop sends to a worker. WorkerProcess speaks them
// over the socket; tests can answer them in process.
class WorkerConnection {
 public:
  virtual ~WorkerConnection() = default;
  // A load in three calls (common/worker_protocol.h), so that the engine loop keeps stepping the
  // worker's other models while a model's file is read: BeginLoad, PollLoad until the status
  // says finished, FinishLoad. A failed poll or finish ends the load (the worker frees its pages).
  // Unimplemented unless overridden (in-process test workers answer LoadModel instead).
  virtual StatusOr<wire::LoadStatus> BeginLoad(const wire::LoadModelRequest& request);
  virtual StatusOr<wire::LoadStatus> PollLoad(const std::string& name);
  virtual StatusOr<wire::ModelInfo> FinishLoad(const std::string& name);
  // The three, waiting between the polls: for callers that may wait (a restarted worker's
  // reloads, tests). In-process test workers answer it at once.
  virtual StatusOr<wire::ModelInfo> LoadModel(const wire::LoadModelRequest& request);
  virtual StatusOr<wire::StepReply> Step(const wire::StepRequest& request) = 0;
  // Frees the model's weights and KV cache on the worker (docs/models.md).
  virtual Status UnloadModel(const std::string& name) {
    return Status::Unimplemented("this worker cannot unload model '" + name + "'");
  }
  // Makes the model staged on the worker (a host copy of its file); a warm one is swapped out.
  virtual StatusOr<wire::StagedInfo> StageModel(const wire::LoadModelRequest& request) {
    return Status::Unimplemented("this worker cannot stage model '" + request.name + "'");
  }
  // A warm model's KV blocks, out and in (wire::KvBlocksRead, wire::KvBlocksWrite): what a
  // request carries to another node instead of being recomputed there (docs/cluster.md).
  // Unimplemented unless overridden.
  virtual StatusOr<wire::KvBlocks> ReadKvBlocks(const wire::KvBlocksRead& request);
  virtual Status WriteKvBlocks(const wire::KvBlocksWrite& request);
  // Hears the progress of loads (at each poll) and stages (bytes of the file read), on the
  // calling thread.
  using ProgressListener = std::function<void(const wire::Progress&)>;
  virtual void SetProgressListener(ProgressListener listener) { (void)listener; }
  // Changes each time the worker behind the connection was replaced (a supervised restart):
  // the KV caches the engine filled are gone. Always 0 for one that is never replaced.
  virtual uint64_t generation() const { return 0; }
};

class WorkerProcess : public WorkerConnection {
 public:
  // Starts `binary serve --fd N [extra_args...]` with one end of a socketpair
  // and waits for its hello. The child dies with the daemon (PDEATHSIG).
  static StatusOr<std::unique_ptr<WorkerProcess>> Spawn(const std::string& binary,
                                                        const std::vector<std::string>& extra_args);
  ~WorkerProcess() override;  // Stops the worker if it still runs.
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  // Round trip: true when the worker answers.
  Status Ping();

  // Request/reply calls. A worker's Error frame comes back as Internal with
  // its message; a dead worker as Unavailable.
  StatusOr<wire::LoadStatus> BeginLoad(const wire::LoadModelRequest& request) override;
  StatusOr<wire::LoadStatus> PollLoad(const std::string& name) override;
  StatusOr<wire::ModelInfo> FinishLoad(const std::string& name) override;
  StatusOr<wire::StepReply> Step(const wire::StepRequest& request) override;
  Status UnloadModel(const std::string& name) override;
  StatusOr<wire::StagedInfo> StageModel(const wire::LoadModelRequest& request) override;
  StatusOr<wire::KvBlocks> ReadKvBlocks(const wire::KvBlocksRead& request) override;
  Status WriteKvBlocks(const wire::KvBlocksWrite& request) override;
  void SetProgressListener(ProgressListener listener) override {
    std::lock_guard<std::mutex> lock(listener_mu_);
    listener_ = std::move(listener);
  }

  // Asks the worker to exit, then kills it if it has not after `grace_ms`.
  // Reaps the child in both cases.
  void Stop(int grace_ms = 2000);

  pid_t pid() const { return pid_; }
  const wire::WorkerHello& hello() const { return hello_; }

  // A stage sends a progress frame for every piece of the file it reads, and a load's polls
  // report the bytes read; a worker that sends nothing for this long while staging or answering
  // a load's request, or whose load reads nothing more for this long (a stalled network file
  // system, a hung disk), is killed and the call fails Unavailable, so one bad file cannot hold
  // the worker forever.
  // Steps have no such limit: a stopped worker that continues finishes its streams.
  void SetLoadStallLimit(std::chrono::milliseconds limit) { load_stall_limit_ = limit; }

 private:
  WorkerProcess(pid_t pid, int fd) : pid_(pid), fd_(fd) {}

  // Sends one request and reads its reply; an Error reply becomes a Status,
  // any other type than `expected` Corruption.
  StatusOr<wire::Frame> Call(wire::MessageType type, const std::vector<uint8_t>& payload, wire::MessageType expected);
  // The next frame of a stage, within the stall limit. REQUIRES(mu_)
  StatusOr<wire::Frame> ReadLoadFrame(const std::string& what);
  // Tells the listener, and kills a worker whose load read nothing for the stall limit.
  Status OnLoadStatus(const wire::LoadStatus& status);
  void Hear(const wire::Progress& progress);

  // Constant after construction.
  pid_t pid_;
  wire::WorkerHello hello_;

  std::chrono::milliseconds load_stall_limit_{120'000};  // set before the first load

  std::mutex mu_;  // One request/reply exchange on the socket at a time.
  int fd_;         // GUARDED_BY(mu_)
  bool reaped_ = false;  // GUARDED_BY(mu_)
  std::mutex listener_mu_;
  ProgressListener listener_;  // GUARDED_BY(listener_mu_)
  // Loads in progress: the bytes read at the last poll, and since when.
  struct LoadSeen {
    uint64_t done = 0;
    std::chrono::steady_clock::time_point since;
  };
  std::map<std::string, LoadSeen> loads_;  // GUARDED_BY(listener_mu_)
};

}  // namespace hearth::daemon
