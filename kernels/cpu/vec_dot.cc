// Scalar reference dot products and the dispatch to the ISA variants.
#include "kernels/cpu/vec_dot.h"

#include <cmath>

#include <cstring>

#include "kernels/cpu/fp16.h"
#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/kquant_scales.h"

namespace hearth::kernels {
namespace {

float DotF32(int64_t k, const uint8_t* w, const float* x) {
  float sum = 0.0f;
  for (int64_t i = 0; i < k; ++i) {
    float v;
    std::memcpy(&v, w + 4 * i, 4);
    sum += v * x[i];
  }
  return sum;
}

template <bool kBf16>
float DotHalf(int64_t k, const uint8_t* w, const float* x) {
  float sum = 0.0f;
  for (int64_t i = 0; i < k; ++i) {
    uint16_t h;
    std::memcpy(&h, w + 2 * i, 2);
    sum += (kBf16 ? Bf16ToF32(h) : F16ToF32(h)) * x[i];
  }
  return sum;
}

// sum over the block of nibble * activation, and of the activations.
inline int NibbleDot(const uint8_t* qs, const int8_t* a) {
  int s = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    s += (qs[j] & 0x0f) * a[j] + (qs[j] >> 4) * a[j + kQK / 2];
  }
  return s;
}

// Block i of an activation row.
struct ActBlock {
  float d, s;
  const int8_t* qs;  // [32]
};
inline ActBlock Act(const BlockQ8_1x2* x, int64_t i) {
  const BlockQ8_1x2& p = x[i / 2];
  const int h = static_cast<int>(i % 2);
  return {p.d[h], p.s[h], p.qs + 32 * h};
}

float DotQ4_0(int64_t k, const uint8_t* w, const BlockQ8_1x2* x) {
  const auto* b = reinterpret_cast<const BlockQ4_0*>(w);
  float sum = 0.0f;
  for (int64_t i = 0; i < k / kQK; ++i) {
    // (q - 8) * a summed = sum(q*a) - 8*sum(a).
    const ActBlock a = Act(x, i);
    const float d = F16ToF32(b[i].d);
    sum += d * a.d * static_cast<float>(NibbleDot(b[i].qs, a.qs)) + (-8.0f * d) * a.s;
  }
  return sum;
}

// llama.cpp's order: eight lanes (lane l sums elements 4l..4l+3 of each
// block) accumulated with fma over the blocks in order, the m*s terms summed
// in order, then ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)) + that sum.
float DotQ4_1(int64_t k, const uint8_t* w, const BlockQ8_1x2* x) {
  const auto* b = reinterpret_cast<const BlockQ4_1*>(w);
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  float offset = 0.0f;
  for (int64_t i = 0; i < k / kQK; ++i) {
    const ActBlock a = Act(x, i);
    const float d = F16ToF32(b[i].d) * a.d;
    for (int l = 0; l < 8; ++l) {
      int s = 0;
      for (int e = 4 * l; e < 4 * l + 4; ++e) {
        const int q = e < kQK / 2 ? (b[i].qs[e] & 0x0f) : (b[i].qs[e - kQK / 2] >> 4);
        s += q * a.qs[e];
      }
      lane[l] = std::fma(d, static_cast<float>(s), lane[l]);
    }
    const float ms = F16ToF32(b[i].m) * a.s;
    offset += ms;
  }
  return (((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]))) +
         offset;
}

float DotQ8_0(int64_t k, const uint8_t* w, const BlockQ8_1x2* x) {
  const auto* b = reinterpret_cast<const BlockQ8_0*>(w);
  float sum = 0.0f;
  for (int64_t i = 0; i < k / kQK; ++i) {
    const ActBlock a = Act(x, i);
    int s = 0;
    for (int j = 0; j < kQK; ++j) s += b[i].qs[j] * a.qs[j];
    sum += F16ToF32(b[i].d) * a.d * static_cast<float>(s);
  }
  return sum;
}

float DotQ4_K(int64_t k, const uint8_t* w, const BlockQ8_K* x) {
  const auto* b = reinterpret_cast<const BlockQ4_K*>(w);
  float sum = 0.0f;
  for (int64_t i = 0; i < k / kQKK; ++i) {
    int32_t isum = 0, imin = 0;
    const uint8_t* q = b[i].qs;
    const int8_t* a = x[i].qs;
    for (int g = 0; g < 4; ++g, q += 32, a += 64) {
      uint8_t sc0, m0, sc1, m1;
      Q4KScaleMin(2 * g, b[i].scales, &sc0, &m0);
      Q4KScaleMin(2 * g + 1, b[i].scales, &sc1, &m1);
      int s0 = 0, s1 = 0;
      for (int l = 0; l < 32; ++l) {
        s0 += (q[l] & 0x0f) * a[l];
        s1 += (q[l] >> 4) * a[l + 32];
      }
      isum += sc0 * s0 + sc1 * s1;
      imin += m0 * (x[i].bsums[4 * g] + x[i].bsums[4 * g + 1]) +
              m1 * (x[i].bsums[4 * g + 2] + x[i].bsums[4 * g + 3]);
    }
    sum += F16ToF32(b[i].d) * x[i].d * static_cast<float>(isum) -
           F16ToF32(b[i].dmin) * x[i].d * static_cast<float>(imin);
  }
  return sum;
}

float DotQ6_K(int64_t k, const uint8_t* w, const BlockQ8_K* x) {
  const auto* b = reinterpret_cast<const BlockQ6_K*>(w);
  float sum = 0.0f;
  for (int64_t i = 0; i < k / kQKK; ++i) {
    int32_t isum = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = b[i].ql + 64 * half;
      const uint8_t* qh = b[i].qh + 32 * half;
      const int8_t* a = x[i].qs + 128 * half;
      const int8_t* sc = b[i].scales + 8 * half;
      for (int quarter = 0; quarter < 4; ++quarter) {
        int s[2] = {0, 0};
        for (int l = 0; l < 32; ++l) {
          const uint8_t qlb = ql[l + 32 * (quarter & 1)];
          const int lo4 = quarter < 2 ? (qlb & 0x0f) : (qlb >> 4);
          const int q = (lo4 | (((qh[l] >> (2 * quarter)) & 3) << 4)) - 32;
          s[l / 16] += q * a[32 * quarter + l];
        }
        isum += sc[2 * quarter] * s[0] + sc[2 * quarter + 1] * s[1];
      }
    }
    sum += F16ToF32(b[i].d) * x[i].d * static_cast<float>(isum);
  }
  return sum;
}

}  // namespace

namespace internal {

float VecDotRef(GgmlType type, int64_t k, const uint8_t* w, const uint8_t* x) {
  const auto* xf = reinterpret_cast<const float*>(x);
  const auto* x8 = reinterpret_cast<const BlockQ8_1x2*>(x);
  const auto* xk = reinterpret_cast<const BlockQ8_K*>(x);
  switch (type) {
    case GgmlType::kF32:
      return DotF32(k, w, xf);
    case GgmlType::kF16:
      return DotHalf<false>(k, w, xf);
    case GgmlType::kBF16:
      return DotHalf<true>(k, w, xf);
    case GgmlType::kQ4_0:
      return DotQ4_0(k, w, x8);
    case GgmlType::kQ4_1:
      return DotQ4_1(k, w, x8);
    case GgmlType::kQ8_0:
      return DotQ8_0(k, w, x8);
    case GgmlType::kQ4_K:
      return DotQ4_K(k, w, xk);
    case GgmlType::kQ6_K:
      return DotQ6_K(k, w, xk);
    default:
      break;
  }
  CHECK(false) << "no dot product for " << GgmlTypeName(type);
  return 0.0f;
}

}  // namespace internal

float VecDotRef(GgmlType type, int64_t k, const uint8_t* w, const uint8_t* x) {
  CHECK_EQ(k % BlockElems(type), 0);
  return internal::VecDotRef(type, k, w, x);
}

float VecDot(GgmlType type, int64_t k, const uint8_t* w, const uint8_t* x) {
  CHECK_EQ(k % BlockElems(type), 0);
  float out;
  internal::DotTileFor(ActiveIsa(), type)(k, w, 0, 1, x, 0, 1, &out, 0);
  return out;
}

}  // namespace hearth::kernels
