#include "daemon/routing/route_choice.h"

#include <algorithm>
#include <limits>

namespace hearth::daemon {
namespace {

constexpr size_t kPrefixTokens = 64;

uint64_t Fnv1a(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

// A 64-bit finalizer (splitmix64's) so that nearby inputs rank independently.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

int StateTier(std::string_view state) {
  if (state == "warm") return 0;
  if (state == "loading") return 1;
  if (state == "staged" || state == "staging") return 2;
  if (state == "registered" || state == "unloading") return 3;
  return -1;
}

uint64_t PrefixHash(std::span<const int32_t> prompt) {
  const size_t n = std::min(prompt.size(), kPrefixTokens);
  return Fnv1a(14695981039346656037ull, prompt.data(), n * sizeof(int32_t));
}

int ChooseRoute(const std::vector<RouteCandidate>& candidates, uint64_t prefix_hash, RouteChoiceOptions options) {
  int best_tier = std::numeric_limits<int>::max();
  for (const RouteCandidate& c : candidates) {
    const int tier = StateTier(c.state);
    if (tier >= 0) best_tier = std::min(best_tier, tier);
  }
  if (best_tier == std::numeric_limits<int>::max()) return -1;
  int64_t least = std::numeric_limits<int64_t>::max();
  for (const RouteCandidate& c : candidates) {
    if (StateTier(c.state) == best_tier) least = std::min(least, c.load);
  }
  auto eligible = [&](const RouteCandidate& c) {
    return StateTier(c.state) == best_tier && c.load <= least + options.balance_slack;
  };
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (candidates[i].self && eligible(candidates[i])) return static_cast<int>(i);
  }
  int chosen = -1;
  uint64_t best_rank = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const RouteCandidate& c = candidates[i];
    if (!eligible(c)) continue;
    const uint64_t rank = Mix(Fnv1a(prefix_hash, c.node.data(), c.node.size()));
    if (chosen < 0 || rank > best_rank || (rank == best_rank && c.node < candidates[chosen].node)) {
      chosen = static_cast<int>(i);
      best_rank = rank;
    }
  }
  return chosen;
}

}  // namespace hearth::daemon
