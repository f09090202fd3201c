// How a request moves to the node that takes it over (docs/cluster.md, "KV transfer"): with the
// KV blocks its old node computed, sent over the network, or recomputed there from its tokens.
// Chosen by an estimate of each: the blocks' bytes over the link's measured speed against the
// tokens they hold over the measured prefill speed. Pure.
#pragma once

#include <cstdint>
#include <string>

namespace hearth::scheduler {

enum class KvMove { kTransfer, kRecompute };

// "auto" chooses by the estimate; "transfer" and "recompute" force one (tests, benchmarks).
enum class KvMovePolicy { kAuto, kTransfer, kRecompute };

// False for anything but "auto", "transfer" or "recompute".
bool ParseKvMovePolicy(const std::string& text, KvMovePolicy* policy);

struct KvMoveEstimate {
  double transfer_seconds = 0;   // bytes / link speed; 0 while the link is not measured
  double recompute_seconds = 0;  // tokens / prefill speed; 0 while prefill is not measured
  KvMove move = KvMove::kRecompute;
};

// `bytes` and `tokens`: what the transfer would carry and what it would spare. A speed of 0 is
// not measured yet: an unmeasured link is tried (the first transfer measures it), and with
// prefill unmeasured the transfer is taken too. Nothing to carry is a recompute.
KvMoveEstimate ChooseKvMove(KvMovePolicy policy, uint64_t bytes, int64_t tokens, double link_bytes_per_second,
                            double prefill_tokens_per_second);

}  // namespace hearth::scheduler
