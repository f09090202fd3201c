#include "scheduler/kv_move.h"

namespace hearth::scheduler {

bool ParseKvMovePolicy(const std::string& text, KvMovePolicy* policy) {
  if (text == "auto") {
    *policy = KvMovePolicy::kAuto;
  } else if (text == "transfer") {
    *policy = KvMovePolicy::kTransfer;
  } else if (text == "recompute") {
    *policy = KvMovePolicy::kRecompute;
  } else {
    return false;
  }
  return true;
}

KvMoveEstimate ChooseKvMove(KvMovePolicy policy, uint64_t bytes, int64_t tokens, double link_bytes_per_second,
                            double prefill_tokens_per_second) {
  KvMoveEstimate e;
  if (link_bytes_per_second > 0) e.transfer_seconds = static_cast<double>(bytes) / link_bytes_per_second;
  if (prefill_tokens_per_second > 0) e.recompute_seconds = static_cast<double>(tokens) / prefill_tokens_per_second;
  if (bytes == 0 || tokens <= 0 || policy == KvMovePolicy::kRecompute) {
    e.move = KvMove::kRecompute;
  } else if (policy == KvMovePolicy::kTransfer || link_bytes_per_second <= 0 || prefill_tokens_per_second <= 0) {
    e.move = KvMove::kTransfer;
  } else {
    e.move = e.transfer_seconds < e.recompute_seconds ? KvMove::kTransfer : KvMove::kRecompute;
  }
  return e;
}

}  // namespace hearth::scheduler
