// A model file read into memory the worker has already mapped (pool pages) on a loader thread of
// its own, so that the worker's main thread keeps running steps of its other models meanwhile
// (docs/models.md, "Loading while serving"). The loader thread only writes the file's bytes into
// the destination; the main thread maps and frees the destination, and reads it only once the
// read is finished().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "common/status.h"
#include "gpu_worker/model_file_reader.h"

namespace hearth::worker {

class BackgroundRead {
 public:
  // Starts reading the whole of `reader`'s file into `dst` ([reader->size()] bytes, mapped until
  // this is destroyed). `observer` (may be empty; tests use it to hold or break a read) runs on
  // the loader thread after each piece is counted.
  BackgroundRead(std::unique_ptr<ModelFileReader> reader, uint8_t* dst, ReadProgress observer = {});
  ~BackgroundRead();  // Stop(), then waits for the loader thread
  BackgroundRead(const BackgroundRead&) = delete;
  BackgroundRead& operator=(const BackgroundRead&) = delete;

  // The read ends before its next piece, Unavailable.
  void Stop() { stop_.store(true, std::memory_order_relaxed); }

  uint64_t done() const { return done_.load(std::memory_order_relaxed); }
  uint64_t total() const { return total_; }
  // The loader thread is done: status() says how, and on Ok the destination holds the file.
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  // Only once finished().
  const Status& status() const { return status_; }

 private:
  void Run(uint8_t* dst, ReadProgress observer);

  // Constant after construction.
  const std::unique_ptr<ModelFileReader> reader_;
  const uint64_t total_;

  std::atomic<uint64_t> done_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  Status status_;  // written by the loader thread before it sets finished_
  std::thread thread_;
};

}  // namespace hearth::worker
