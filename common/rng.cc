// Conversions from Philox words to uniform floats; see rng.h for the keying scheme.
#include "common/rng.h"

namespace hearth {

PhiloxCounter PhiloxBlock(uint64_t seed, uint64_t counter) {
  const PhiloxKey key = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  const PhiloxCounter ctr = {static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32),
                             0u, 0u};
  return Philox4x32_10(ctr, key);
}

float UniformFloat(uint64_t seed, uint64_t counter) {
  // The top 24 bits fill a float mantissa exactly, so rounding can never produce 1.0f.
  const uint32_t bits = PhiloxBlock(seed, counter)[0] >> 8;
  return static_cast<float>(bits) * 0x1.0p-24f;
}

double UniformDouble(uint64_t seed, uint64_t counter) {
  const PhiloxCounter block = PhiloxBlock(seed, counter);
  const uint64_t bits = ((uint64_t{block[0]} << 32) | block[1]) >> 11;
  return static_cast<double>(bits) * 0x1.0p-53;
}

}  // namespace hearth
