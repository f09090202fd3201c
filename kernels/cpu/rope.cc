// RoPE: per row, the angles for all pairs are computed once, in float the
// way llama.cpp computes them (so results match it bit for bit), and applied
// to every head.
#include "kernels/cpu/rope.h"

#include <cmath>
#include <numbers>
#include <string>

namespace hearth::kernels {

Status ApplyRope(const RopeParams& p, float* x, int64_t n, int32_t num_heads,
                 const int32_t* positions) {
  const int32_t d = p.head_dim;
  if (d <= 0 || d % 2 != 0 || d > kMaxRopeHeadDim) {
    return Status::InvalidArgument("rope head_dim " + std::to_string(d));
  }
  const int32_t half = d / 2;
  float cos_t[kMaxRopeHeadDim / 2], sin_t[kMaxRopeHeadDim / 2];
  // As llama.cpp: the frequency ratio in float, each pair's angle the
  // previous one's times that ratio (in float), cosf/sinf of it.
  const float theta_scale = std::pow(p.theta_base, -2.0f / static_cast<float>(d));
  for (int64_t r = 0; r < n; ++r) {
    float theta = static_cast<float>(positions[r]);
    for (int32_t i = 0; i < half; ++i) {
      const float t = p.freq_factors != nullptr ? theta / p.freq_factors[i] : theta;
      cos_t[i] = std::cos(t);
      sin_t[i] = std::sin(t);
      theta *= theta_scale;
    }
    for (int32_t h = 0; h < num_heads; ++h) {
      float* v = x + (r * num_heads + h) * d;
      // Pair i is (v[a], v[b]); the styles differ only in where b sits.
      const int32_t stride = p.style == RopeStyle::kInterleaved ? 2 : 1;
      const int32_t offset = p.style == RopeStyle::kInterleaved ? 1 : half;
      for (int32_t i = 0; i < half; ++i) {
        const int32_t a = i * stride, b = a + offset;
        const float x0 = v[a], x1 = v[b];
        v[a] = std::fma(x0, cos_t[i], -(x1 * sin_t[i]));
        v[b] = std::fma(x0, sin_t[i], x1 * cos_t[i]);
      }
    }
  }
  return Status::Ok();
}

std::vector<float> Llama3FreqFactors(int32_t head_dim, float theta_base, float factor,
                                     float low_freq_factor, float high_freq_factor,
                                     int32_t original_max_position_embeddings) {
  const double old_ctx = original_max_position_embeddings;
  const double low_wavelen = old_ctx / low_freq_factor;    // longer than this: fully scaled
  const double high_wavelen = old_ctx / high_freq_factor;  // shorter than this: unscaled
  std::vector<float> out(head_dim / 2);
  for (int32_t i = 0; i < head_dim / 2; ++i) {
    const double freq = std::pow(static_cast<double>(theta_base), -2.0 * i / head_dim);
    const double wavelen = 2.0 * std::numbers::pi / freq;
    double ff;
    if (wavelen < high_wavelen) {
      ff = 1.0;
    } else if (wavelen > low_wavelen) {
      ff = factor;
    } else {
      const double smooth = (old_ctx / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
      const double new_freq = (1.0 - smooth) * freq / factor + smooth * freq;
      ff = freq / new_freq;
    }
    out[i] = static_cast<float>(ff);
  }
  return out;
}

}  // namespace hearth::kernels
