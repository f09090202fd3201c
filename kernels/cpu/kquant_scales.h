// Unpacks the 6-bit scale and min of sub-block j (0..7) of a Q4_K block.
#pragma once

#include <cstdint>

namespace hearth::kernels {

// Layout of the 12 bytes: bytes 0..3 hold scales 0..3 (low 6 bits) and the
// top 2 bits of scales 4..7; bytes 4..7 the same for the mins; bytes 8..11
// hold the low 4 bits of scale 4+i (low nibble) and min 4+i (high nibble).
inline void Q4KScaleMin(int j, const uint8_t* q, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

}  // namespace hearth::kernels
