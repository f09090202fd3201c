// Rotary position embedding, in the two layouts GGUF models use, with
// optional per-dimension frequency factors (llama3 rope scaling).
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"

namespace hearth::kernels {

enum class RopeStyle {
  kInterleaved,  // rotate (x[2i], x[2i+1]): llama.cpp's normal mode, llama-arch GGUF
  kNeox,         // rotate (x[i], x[i + d/2]): GPT-NeoX / HF layout
};

struct RopeParams {
  RopeStyle style = RopeStyle::kInterleaved;
  int32_t head_dim = 0;                  // even, <= kMaxRopeHeadDim
  float theta_base = 10000.0f;           // frequency i is theta_base^(-2i/head_dim)
  const float* freq_factors = nullptr;   // [head_dim/2] divisors of each frequency, or null
};

inline constexpr int32_t kMaxRopeHeadDim = 1024;

// x: [n, num_heads * head_dim], rotated in place; positions: [n]. Row r's
// result depends only on its values and positions[r].
Status ApplyRope(const RopeParams& params, float* x, int64_t n, int32_t num_heads,
                 const int32_t* positions);

// llama3's frequency factors ([head_dim/2], to use as RopeParams::freq_factors):
// high frequencies are kept, low ones divided by `factor`, smooth in between.
std::vector<float> Llama3FreqFactors(int32_t head_dim, float theta_base, float factor,
                                     float low_freq_factor, float high_freq_factor,
                                     int32_t original_max_position_embeddings);

}  // namespace hearth::kernels
