// Scalar reference quantizers/dequantizers and their ISA dispatch.
#include "kernels/cpu/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "kernels/cpu/fp16.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/kquant_scales.h"

namespace hearth::kernels {
namespace {

void DequantF32(const uint8_t* src, float* dst, int64_t n) { std::memcpy(dst, src, n * 4); }

void DequantF16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = F16ToF32(h);
  }
}

void DequantBF16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = Bf16ToF32(h);
  }
}

void DequantQ4_0(const uint8_t* src, float* dst, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = F16ToF32(b[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = static_cast<float>((b[i].qs[j] & 0x0f) - 8) * d;
      dst[j + kQK / 2] = static_cast<float>((b[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void DequantQ4_1(const uint8_t* src, float* dst, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = F16ToF32(b[i].d);
    const float m = F16ToF32(b[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      dst[j] = static_cast<float>(b[i].qs[j] & 0x0f) * d + m;
      dst[j + kQK / 2] = static_cast<float>(b[i].qs[j] >> 4) * d + m;
    }
  }
}

void DequantQ8_0(const uint8_t* src, float* dst, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
    const float d = F16ToF32(b[i].d);
    for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(b[i].qs[j]) * d;
  }
}

void DequantQ4_K(const uint8_t* src, float* dst, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ4_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i) {
    const float d = F16ToF32(b[i].d);
    const float dmin = F16ToF32(b[i].dmin);
    const uint8_t* q = b[i].qs;
    // Four groups of 64: 32 low nibbles (sub-block 2g) then 32 high (2g+1).
    for (int g = 0; g < 4; ++g, q += 32) {
      uint8_t sc0, m0, sc1, m1;
      Q4KScaleMin(2 * g, b[i].scales, &sc0, &m0);
      Q4KScaleMin(2 * g + 1, b[i].scales, &sc1, &m1);
      const float d0 = d * sc0, mm0 = dmin * m0, d1 = d * sc1, mm1 = dmin * m1;
      for (int l = 0; l < 32; ++l) *dst++ = d0 * static_cast<float>(q[l] & 0x0f) - mm0;
      for (int l = 0; l < 32; ++l) *dst++ = d1 * static_cast<float>(q[l] >> 4) - mm1;
    }
  }
}

// Q6_K element value q in -32..31 for element e (0..255) of a block.
inline int Q6KValue(const BlockQ6_K& b, int e) {
  const int half = e / 128, r = e % 128;  // each 128-half uses 64 ql and 32 qh bytes
  const int quarter = r / 32, l = r % 32;
  const uint8_t* ql = b.ql + 64 * half;
  const uint8_t* qh = b.qh + 32 * half;
  // quarter 0: ql[l] low, 1: ql[l+32] low, 2: ql[l] high, 3: ql[l+32] high.
  const uint8_t qlb = ql[l + 32 * (quarter & 1)];
  const int lo4 = (quarter < 2) ? (qlb & 0x0f) : (qlb >> 4);
  const int hi2 = (qh[l] >> (2 * quarter)) & 3;
  return (lo4 | (hi2 << 4)) - 32;
}

void DequantQ6_K(const uint8_t* src, float* dst, int64_t n) {
  const auto* b = reinterpret_cast<const BlockQ6_K*>(src);
  for (int64_t i = 0; i < n / kQKK; ++i, dst += kQKK) {
    const float d = F16ToF32(b[i].d);
    for (int e = 0; e < kQKK; ++e) {
      dst[e] = d * static_cast<float>(b[i].scales[e / 16]) * static_cast<float>(Q6KValue(b[i], e));
    }
  }
}

float AbsMax(const float* x, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
  return amax;
}

// Clamps before converting so NaN or huge inputs never reach an undefined float->int cast.
int ClampToInt(float v, int lo, int hi) {
  if (!(v >= static_cast<float>(lo))) return lo;
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(v);
}

// The weight quantizers round as ggml's quantize_row_*_ref: Q8_0 half away from zero, Q4_0 and
// Q4_1 by adding a half (Q4_0: 8.5, its offset folded in) and truncating.
void QuantizeQ8_0(const float* x, uint8_t* dst, int64_t n) {
  auto* y = reinterpret_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const float d = AbsMax(x, kQK) / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = F32ToF16(d);
    for (int j = 0; j < kQK; ++j) y[i].qs[j] = static_cast<int8_t>(ClampToInt(std::round(x[j] * id), -127, 127));
  }
}

void QuantizeQ4_0(const float* x, uint8_t* dst, int64_t n) {
  auto* y = reinterpret_cast<BlockQ4_0*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    // Signed max: the value of largest magnitude maps to -8 exactly.
    float max = 0.0f;
    for (int j = 0; j < kQK; ++j) {
      if (std::fabs(x[j]) > std::fabs(max)) max = x[j];
    }
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = F32ToF16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      const int a = ClampToInt(x[j] * id + 8.5f, 0, 15);
      const int b = ClampToInt(x[j + kQK / 2] * id + 8.5f, 0, 15);
      y[i].qs[j] = static_cast<uint8_t>(a | (b << 4));
    }
  }
}

void QuantizeQ4_1(const float* x, uint8_t* dst, int64_t n) {
  auto* y = reinterpret_cast<BlockQ4_1*>(dst);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float lo = x[0], hi = x[0];
    for (int j = 1; j < kQK; ++j) {
      lo = std::min(lo, x[j]);
      hi = std::max(hi, x[j]);
    }
    const float d = (hi - lo) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = F32ToF16(d);
    y[i].m = F32ToF16(lo);
    for (int j = 0; j < kQK / 2; ++j) {
      const int a = ClampToInt((x[j] - lo) * id + 0.5f, 0, 15);
      const int b = ClampToInt((x[j + kQK / 2] - lo) * id + 0.5f, 0, 15);
      y[i].qs[j] = static_cast<uint8_t>(a | (b << 4));
    }
  }
}

}  // namespace

namespace internal {

DequantFn ScalarDequant(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
      return DequantF32;
    case GgmlType::kF16:
      return DequantF16;
    case GgmlType::kBF16:
      return DequantBF16;
    case GgmlType::kQ4_0:
      return DequantQ4_0;
    case GgmlType::kQ4_1:
      return DequantQ4_1;
    case GgmlType::kQ8_0:
      return DequantQ8_0;
    case GgmlType::kQ4_K:
      return DequantQ4_K;
    case GgmlType::kQ6_K:
      return DequantQ6_K;
    default:
      break;
  }
  CHECK(false) << "no dequantizer for " << GgmlTypeName(type);
  return nullptr;
}

}  // namespace internal

void DequantizeRowRef(GgmlType type, const uint8_t* src, float* dst, int64_t n) {
  CHECK_EQ(n % BlockElems(type), 0) << "row of " << n << " for " << GgmlTypeName(type);
  internal::ScalarDequant(type)(src, dst, n);
}

void DequantizeRow(GgmlType type, const uint8_t* src, float* dst, int64_t n) {
  CHECK_EQ(n % BlockElems(type), 0) << "row of " << n << " for " << GgmlTypeName(type);
  internal::DequantFor(ActiveIsa(), type)(src, dst, n);
}

void QuantizeRowQ8_1Ref(const float* x, BlockQ8_1x2* y, int64_t n, bool f16_sum) {
  CHECK_EQ(n % kQK, 0);
  if ((n / kQK) % 2 != 0) std::memset(&y[n / kQK / 2], 0, sizeof(BlockQ8_1x2));
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    BlockQ8_1x2& p = y[i / 2];
    const int h = static_cast<int>(i % 2);
    const float amax = AbsMax(x, kQK);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int32_t sum = 0;
    for (int j = 0; j < kQK; ++j) {
      const int q = static_cast<int>(std::nearbyint(x[j] * id));
      p.qs[32 * h + j] = static_cast<int8_t>(q);
      sum += q;
    }
    const float d = amax / 127.0f;
    p.d[h] = RoundToF16(d);
    p.s[h] = f16_sum ? RoundToF16(d * static_cast<float>(sum)) : p.d[h] * static_cast<float>(sum);
  }
}

void QuantizeRowQ8_KRef(const float* x, BlockQ8_K* y, int64_t n) {
  CHECK_EQ(n % kQKK, 0);
  for (int64_t i = 0; i < n / kQKK; ++i, x += kQKK) {
    const float amax = AbsMax(x, kQKK);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    for (int j = 0; j < kQKK; ++j) {
      y[i].qs[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
    }
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += y[i].qs[16 * g + j];
      y[i].bsums[g] = static_cast<int16_t>(sum);
    }
    y[i].d = amax / 127.0f;
  }
}

void QuantizeRowQ8_1(const float* x, BlockQ8_1x2* y, int64_t n, bool f16_sum) {
  CHECK_EQ(n % kQK, 0);
  internal::Kernels(ActiveIsa()).quant_q8_1(x, y, n, f16_sum);
}

void QuantizeRowQ8_K(const float* x, BlockQ8_K* y, int64_t n) {
  CHECK_EQ(n % kQKK, 0);
  internal::Kernels(ActiveIsa()).quant_q8_k(x, y, n);
}

void QuantizeActivationRow(ActType act, const float* x, uint8_t* dst, int64_t n) {
  switch (act) {
    case ActType::kF32: std::memcpy(dst, x, n * sizeof(float)); return;
    case ActType::kQ8_0: QuantizeRowQ8_1(x, reinterpret_cast<BlockQ8_1x2*>(dst), n, false); return;
    case ActType::kQ8_1: QuantizeRowQ8_1(x, reinterpret_cast<BlockQ8_1x2*>(dst), n, true); return;
    case ActType::kQ8_K: QuantizeRowQ8_K(x, reinterpret_cast<BlockQ8_K*>(dst), n); return;
  }
}

Status QuantizeWeightRow(GgmlType type, const float* x, uint8_t* dst, int64_t n) {
  HEARTH_ASSIGN_OR_RETURN(size_t bytes, RowBytes(type, n));
  (void)bytes;
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, x, n * sizeof(float));
      return Status::Ok();
    case GgmlType::kF16:
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = type == GgmlType::kF16 ? F32ToF16(x[i]) : F32ToBf16(x[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return Status::Ok();
    case GgmlType::kQ8_0:
      QuantizeQ8_0(x, dst, n);
      return Status::Ok();
    case GgmlType::kQ4_0:
      QuantizeQ4_0(x, dst, n);
      return Status::Ok();
    case GgmlType::kQ4_1:
      QuantizeQ4_1(x, dst, n);
      return Status::Ok();
    default:
      return Status::Unimplemented(std::string("quantizing to ") + GgmlTypeName(type));
  }
}

StatusOr<std::vector<float>> DequantizeTensor(GgmlType type, const uint8_t* src, uint64_t num_bytes,
                                              uint64_t num_elements) {
  HEARTH_ASSIGN_OR_RETURN(uint64_t expected, GgmlRowBytes(type, num_elements));
  if (expected != num_bytes) {
    return Status::InvalidArgument(std::to_string(num_elements) + " " + GgmlTypeName(type) + " elements need " +
                                   std::to_string(expected) + " bytes, got " + std::to_string(num_bytes));
  }
  if (!GgmlTypeIsSupported(type)) {
    return Status::Unimplemented(std::string("no reference dequantizer for ") + GgmlTypeName(type));
  }
  std::vector<float> out(num_elements);
  DequantizeRowRef(type, src, out.data(), static_cast<int64_t>(num_elements));
  return out;
}

StatusOr<std::vector<uint8_t>> QuantizeTensor(GgmlType type, const float* src, uint64_t num_elements) {
  HEARTH_ASSIGN_OR_RETURN(uint64_t bytes, GgmlRowBytes(type, num_elements));
  std::vector<uint8_t> out(bytes);
  HEARTH_RETURN_IF_ERROR(QuantizeWeightRow(type, src, out.data(), static_cast<int64_t>(num_elements)));
  return out;
}

}  // namespace hearth::kernels
