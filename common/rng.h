// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11) so that a draw depends
// only on (seed, counter): never on batch composition, thread timing or call history.
#pragma once

#include <array>
#include <cstdint>

namespace hearth {

using PhiloxCounter = std::array<uint32_t, 4>;
using PhiloxKey = std::array<uint32_t, 2>;

namespace internal {

// Published Philox4x32 constants: round multipliers and the Weyl key increments
// (golden ratio and sqrt(3) - 1, as 32-bit fractions).
inline constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
inline constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
inline constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;
inline constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;

constexpr PhiloxCounter PhiloxRound(const PhiloxCounter& x, const PhiloxKey& k) {
  const uint64_t p0 = uint64_t{kPhiloxM0} * x[0];
  const uint64_t p1 = uint64_t{kPhiloxM1} * x[2];
  const auto hi0 = static_cast<uint32_t>(p0 >> 32);
  const auto lo0 = static_cast<uint32_t>(p0);
  const auto hi1 = static_cast<uint32_t>(p1 >> 32);
  const auto lo1 = static_cast<uint32_t>(p1);
  return {hi1 ^ x[1] ^ k[0], lo1, hi0 ^ x[3] ^ k[1], lo0};
}

}  // namespace internal

// The Philox4x32 bijection with 10 rounds. constexpr and header-only so a device kernel can
// share the exact same arithmetic as the host (bit-identical draws on CPU and GPU).
constexpr PhiloxCounter Philox4x32_10(PhiloxCounter counter, PhiloxKey key) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += internal::kPhiloxW0;
      key[1] += internal::kPhiloxW1;
    }
    counter = internal::PhiloxRound(counter, key);
  }
  return counter;
}

// The four words for (seed, counter): key = seed (low word first), counter words 0..1 = counter
// (low word first), words 2..3 = 0 (reserved for a future second stream per position).
PhiloxCounter PhiloxBlock(uint64_t seed, uint64_t counter);

// Uniform in [0, 1) with 24 random bits (every value exactly representable; never 1.0f).
float UniformFloat(uint64_t seed, uint64_t counter);

// Uniform in [0, 1) with 53 random bits from words 0 and 1 of the block (never 1.0).
double UniformDouble(uint64_t seed, uint64_t counter);

}  // namespace hearth
