#include "gpu_worker/background_read.h"

namespace hearth::worker {

BackgroundRead::BackgroundRead(std::unique_ptr<ModelFileReader> reader, uint8_t* dst, ReadProgress observer)
    : reader_(std::move(reader)), total_(reader_->size()) {
  thread_ = std::thread([this, dst, observer = std::move(observer)]() mutable { Run(dst, std::move(observer)); });
}

BackgroundRead::~BackgroundRead() {
  Stop();
  thread_.join();
}

void BackgroundRead::Run(uint8_t* dst, ReadProgress observer) {
  Status st = reader_->ReadAll(
      dst,
      [&](uint64_t done, uint64_t total) {
        done_.store(done, std::memory_order_relaxed);
        if (observer) observer(done, total);
      },
      &stop_);
  status_ = std::move(st);
  finished_.store(true, std::memory_order_release);
}

}  // namespace hearth::worker
