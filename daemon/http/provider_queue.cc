#include "daemon/http/provider_queue.h"

#include <boost/asio/post.hpp>

namespace hearth::http {
namespace {

// Calls a busy loop may have waiting behind it before another loop is started.
constexpr size_t kBacklogPerLoop = 8;
// How long every loop may sit inside calls, with work waiting, before another loop starts.
constexpr auto kStall = std::chrono::milliseconds(5);

}  // namespace

void ProviderQueue::Push(std::function<void()> call) {
  bool start_loop = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(call));
    start_loop = NeedsLoop();
    if (start_loop) ++loops_;
  }
  if (start_loop) boost::asio::post(*pool_, [this] { Drain(); });
}

bool ProviderQueue::NeedsLoop() const {
  if (queue_.empty() || loops_ >= max_loops_ || calling_ < loops_) return false;
  return loops_ == 0 || queue_.size() > kBacklogPerLoop * loops_ ||
         std::chrono::steady_clock::now() - last_progress_ > kStall;
}

void ProviderQueue::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!queue_.empty()) {
    std::function<void()> call = std::move(queue_.front());
    queue_.pop_front();
    ++calling_;
    last_progress_ = std::chrono::steady_clock::now();
    // This loop is about to be busy: make sure what is left behind it does not wait on it.
    const bool start_loop = NeedsLoop();
    if (start_loop) ++loops_;
    lock.unlock();
    if (start_loop) boost::asio::post(*pool_, [this] { Drain(); });
    call();
    call = nullptr;  // drop what it holds outside the lock
    lock.lock();
    --calling_;
    last_progress_ = std::chrono::steady_clock::now();
  }
  --loops_;
}

}  // namespace hearth::http
