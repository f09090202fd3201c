// Reference dequantizers, written from the ggml block layouts (see ggml_type.cc).
#include "model/dequantize.h"

#include <cstring>
#include <string>

namespace hearth::model {
namespace {

uint16_t LoadU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Q4_0: [f16 d][16 bytes]: element j is low nibble of byte j, element j+16 the high one.
void DequantQ4_0(const uint8_t* b, float* y) {
  const float d = Fp16ToFloat(LoadU16(b));
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>((qs[j] & 0xF) - 8) * d;
    y[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
  }
}

// Q4_1: [f16 d][f16 m][16 bytes], x = nibble * d + m.
void DequantQ4_1(const uint8_t* b, float* y) {
  const float d = Fp16ToFloat(LoadU16(b));
  const float m = Fp16ToFloat(LoadU16(b + 2));
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = static_cast<float>(qs[j] & 0xF) * d + m;
    y[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}

// Q8_0: [f16 d][32 x int8].
void DequantQ8_0(const uint8_t* b, float* y) {
  const float d = Fp16ToFloat(LoadU16(b));
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

// Q4_K scales: 8 sub-blocks each with a 6-bit scale and 6-bit min packed into 12 bytes.
// Sub-blocks 0..3 use the low 6 bits of bytes 0..3 (scale) and 4..7 (min); sub-blocks
// 4..7 take their low 4 bits from bytes 8..11 and their top 2 bits from the spare
// high bits of bytes 0..7.
void Q4KScaleMin(int j, const uint8_t* q, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Q4_K: [f16 d][f16 dmin][12 bytes scales][128 bytes nibbles] for 256 elements. Each
// 64-element chunk reads 32 bytes: low nibbles are its first 32 elements, high nibbles
// the next 32, each half with its own sub-block scale and min.
void DequantQ4_K(const uint8_t* b, float* y) {
  const float d = Fp16ToFloat(LoadU16(b));
  const float dmin = Fp16ToFloat(LoadU16(b + 2));
  const uint8_t* scales = b + 4;
  const uint8_t* q = b + 16;
  for (int chunk = 0; chunk < 4; ++chunk) {
    uint8_t sc0, m0, sc1, m1;
    Q4KScaleMin(2 * chunk, scales, &sc0, &m0);
    Q4KScaleMin(2 * chunk + 1, scales, &sc1, &m1);
    const float d0 = d * sc0, min0 = dmin * m0, d1 = d * sc1, min1 = dmin * m1;
    for (int l = 0; l < 32; ++l) {
      y[l] = d0 * static_cast<float>(q[l] & 0xF) - min0;
      y[l + 32] = d1 * static_cast<float>(q[l] >> 4) - min1;
    }
    q += 32;
    y += 64;
  }
}

// Q6_K: [128 bytes low nibbles][64 bytes high 2-bit pairs][16 x int8 scales][f16 d] for
// 256 elements, as two halves of 128; each value is a 6-bit unsigned minus 32, and each
// run of 16 elements has its own scale.
void DequantQ6_K(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const uint8_t* sc_bytes = b + 192;
  const float d = Fp16ToFloat(LoadU16(b + 208));
  for (int half = 0; half < 2; ++half) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      auto scale = [&](int k) { return static_cast<float>(static_cast<int8_t>(sc_bytes[k])); };
      y[l] = d * scale(is + 0) * static_cast<float>(q1);
      y[l + 32] = d * scale(is + 2) * static_cast<float>(q2);
      y[l + 64] = d * scale(is + 4) * static_cast<float>(q3);
      y[l + 96] = d * scale(is + 6) * static_cast<float>(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc_bytes += 8;
  }
}

template <typename F>
void ForEachBlock(const uint8_t* src, uint64_t n, GgmlBlockLayout layout, float* dst, F decode) {
  for (uint64_t i = 0; i < n / layout.block_size; ++i) {
    decode(src + i * layout.type_size, dst + i * layout.block_size);
  }
}

}  // namespace

float Fp16ToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf or NaN
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 -> 127
  } else if (mant == 0) {
    bits = sign;  // signed zero
  } else {
    // Subnormal: shift the mantissa up until its leading 1 becomes the implicit bit.
    int e = 113;
    while ((mant & 0x400) == 0) {
      mant <<= 1;
      --e;
    }
    bits = sign | (static_cast<uint32_t>(e) << 23) | ((mant & 0x3FF) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float Bf16ToFloat(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

Status DequantizeRow(GgmlType type, const uint8_t* src, uint64_t n, float* dst) {
  HEARTH_ASSIGN_OR_RETURN(GgmlBlockLayout layout, GgmlLayout(type));
  if (n % layout.block_size != 0) {
    return Status::InvalidArgument(std::to_string(n) + " is not a multiple of the " +
                                   GgmlTypeName(type) + " block size");
  }
  switch (type) {
    case GgmlType::F32: std::memcpy(dst, src, n * 4); return Status::Ok();
    case GgmlType::F16:
      for (uint64_t i = 0; i < n; ++i) dst[i] = Fp16ToFloat(LoadU16(src + 2 * i));
      return Status::Ok();
    case GgmlType::BF16:
      for (uint64_t i = 0; i < n; ++i) dst[i] = Bf16ToFloat(LoadU16(src + 2 * i));
      return Status::Ok();
    case GgmlType::Q4_0: ForEachBlock(src, n, layout, dst, DequantQ4_0); return Status::Ok();
    case GgmlType::Q4_1: ForEachBlock(src, n, layout, dst, DequantQ4_1); return Status::Ok();
    case GgmlType::Q8_0: ForEachBlock(src, n, layout, dst, DequantQ8_0); return Status::Ok();
    case GgmlType::Q4_K: ForEachBlock(src, n, layout, dst, DequantQ4_K); return Status::Ok();
    case GgmlType::Q6_K: ForEachBlock(src, n, layout, dst, DequantQ6_K); return Status::Ok();
    default: break;
  }
  return Status::Unimplemented(std::string("no reference dequantizer for ") + GgmlTypeName(type));
}

StatusOr<std::vector<float>> Dequantize(GgmlType type, const uint8_t* src, uint64_t num_bytes,
                                        uint64_t num_elements) {
  HEARTH_ASSIGN_OR_RETURN(uint64_t expected, GgmlRowBytes(type, num_elements));
  if (expected != num_bytes) {
    return Status::InvalidArgument(std::to_string(num_elements) + " " + GgmlTypeName(type) +
                                   " elements need " + std::to_string(expected) + " bytes, got " +
                                   std::to_string(num_bytes));
  }
  std::vector<float> out(num_elements);
  HEARTH_RETURN_IF_ERROR(DequantizeRow(type, src, num_elements, out.data()));
  return out;
}

}  // namespace hearth::model
