// Reference quantizers: per 32-element block, pick the scale from the block's range and
// round each element to the nearest code. Layouts match dequantize.cc.
#include "model/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

namespace hearth::model {
namespace {

constexpr int kBlock = 32;

void StoreU16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

// Clamps before converting so NaN or huge inputs never reach an undefined float->int cast.
int ClampToInt(float v, int lo, int hi) {
  if (!(v >= static_cast<float>(lo))) return lo;
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(v);
}

void QuantQ8_0(const float* x, uint8_t* b) {
  float amax = 0;
  for (int j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  StoreU16(b, FloatToFp16(d));
  for (int j = 0; j < kBlock; ++j) {
    const int q = ClampToInt(std::round(x[j] * id), -127, 127);
    b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(q));
  }
}

// Q4_0 maps the element of largest magnitude to code 0 (value -8*d), so d carries its
// sign and the other extreme gets the extra code of resolution.
void QuantQ4_0(const float* x, uint8_t* b) {
  float amax = 0, max = 0;
  for (int j = 0; j < kBlock; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  const float d = max / -8.0f;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  StoreU16(b, FloatToFp16(d));
  for (int j = 0; j < kBlock / 2; ++j) {
    const int lo = ClampToInt(x[j] * id + 8.5f, 0, 15);
    const int hi = ClampToInt(x[j + kBlock / 2] * id + 8.5f, 0, 15);
    b[2 + j] = static_cast<uint8_t>(lo | (hi << 4));
  }
}

void QuantQ4_1(const float* x, uint8_t* b) {
  float min = x[0], max = x[0];
  for (int j = 1; j < kBlock; ++j) {
    min = std::min(min, x[j]);
    max = std::max(max, x[j]);
  }
  const float d = (max - min) / 15.0f;
  const float id = d != 0 ? 1.0f / d : 0.0f;
  StoreU16(b, FloatToFp16(d));
  StoreU16(b + 2, FloatToFp16(min));
  for (int j = 0; j < kBlock / 2; ++j) {
    const int lo = ClampToInt((x[j] - min) * id + 0.5f, 0, 15);
    const int hi = ClampToInt((x[j + kBlock / 2] - min) * id + 0.5f, 0, 15);
    b[4 + j] = static_cast<uint8_t>(lo | (hi << 4));
  }
}

}  // namespace

uint16_t FloatToFp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7FFFFFFF;
  if (ax >= 0x7F800000) return sign | 0x7C00 | (ax > 0x7F800000 ? 0x200 : 0);  // inf / NaN
  if (ax >= 0x477FF000) return sign | 0x7C00;  // >= 65520 rounds to inf
  if (ax < 0x38800000) {
    // Below the smallest normal half (2^-14): a subnormal, m * 2^-24. Scaling by 2^24 is
    // exact, and nearbyint rounds half to even in the default rounding mode.
    float a;
    std::memcpy(&a, &ax, 4);
    return sign | static_cast<uint16_t>(std::nearbyint(a * 16777216.0f));
  }
  uint32_t h = ((ax >> 23) - 112) << 10 | ((ax & 0x7FFFFF) >> 13);
  const uint32_t rest = ax & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;  // a carry rolls into the exponent
  return sign | static_cast<uint16_t>(h);
}

uint16_t FloatToBf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7FFFFFFF) > 0x7F800000) return static_cast<uint16_t>((x >> 16) | 0x40);  // quiet NaN
  const uint32_t rounded = x + 0x7FFF + ((x >> 16) & 1);
  return static_cast<uint16_t>(rounded >> 16);
}

Status QuantizeRow(GgmlType type, const float* src, uint64_t n, uint8_t* dst) {
  HEARTH_ASSIGN_OR_RETURN(GgmlBlockLayout layout, GgmlLayout(type));
  if (n % layout.block_size != 0) {
    return Status::InvalidArgument(std::to_string(n) + " is not a multiple of the " +
                                   GgmlTypeName(type) + " block size");
  }
  const uint64_t blocks = n / layout.block_size;
  switch (type) {
    case GgmlType::F32: std::memcpy(dst, src, n * 4); return Status::Ok();
    case GgmlType::F16:
      for (uint64_t i = 0; i < n; ++i) StoreU16(dst + 2 * i, FloatToFp16(src[i]));
      return Status::Ok();
    case GgmlType::BF16:
      for (uint64_t i = 0; i < n; ++i) StoreU16(dst + 2 * i, FloatToBf16(src[i]));
      return Status::Ok();
    case GgmlType::Q8_0:
      for (uint64_t i = 0; i < blocks; ++i) QuantQ8_0(src + i * kBlock, dst + i * layout.type_size);
      return Status::Ok();
    case GgmlType::Q4_0:
      for (uint64_t i = 0; i < blocks; ++i) QuantQ4_0(src + i * kBlock, dst + i * layout.type_size);
      return Status::Ok();
    case GgmlType::Q4_1:
      for (uint64_t i = 0; i < blocks; ++i) QuantQ4_1(src + i * kBlock, dst + i * layout.type_size);
      return Status::Ok();
    default: break;
  }
  return Status::Unimplemented(std::string("no quantizer for ") + GgmlTypeName(type));
}

StatusOr<std::vector<uint8_t>> Quantize(GgmlType type, const float* src, uint64_t n) {
  HEARTH_ASSIGN_OR_RETURN(uint64_t bytes, GgmlRowBytes(type, n));
  std::vector<uint8_t> out(bytes);
  HEARTH_RETURN_IF_ERROR(QuantizeRow(type, src, n, out.data()));
  return out;
}

}  // namespace hearth::model
