#include "kernels/cpu/rope.h"

#include <cmath>

#include "gtest/gtest.h"
#include "kernels/cpu/test_util.h"

namespace hearth::kernels {
namespace {

using testing::Near;
using testing::RandomFloats;

// Double rotation of pair (a, b) by pos * base^(-2i/d) / ff, with the angle
// computed in float as llama.cpp does (pos times base^(-2/d) i times, in float).
void ReferenceRope(RopeStyle style, int d, double base, const float* ff, int pos, float* v) {
  const float scale = std::pow(static_cast<float>(base), -2.0f / static_cast<float>(d));
  float angle = static_cast<float>(pos);
  for (int i = 0; i < d / 2; ++i, angle *= scale) {
    const int a = style == RopeStyle::kInterleaved ? 2 * i : i;
    const int b = style == RopeStyle::kInterleaved ? 2 * i + 1 : i + d / 2;
    double theta = angle;
    if (ff) theta = angle / ff[i];
    const double x0 = v[a], x1 = v[b];
    v[a] = static_cast<float>(x0 * std::cos(theta) - x1 * std::sin(theta));
    v[b] = static_cast<float>(x0 * std::sin(theta) + x1 * std::cos(theta));
  }
}

TEST(Rope, BothStylesMatchReference) {
  const int heads = 3, n = 19;
  std::vector<float> ff = Llama3FreqFactors(64, 500000.0f, 8.0f, 1.0f, 4.0f, 8192);
  for (RopeStyle style : {RopeStyle::kInterleaved, RopeStyle::kNeox}) {
    for (int d : {2, 64, 110}) {
      for (bool use_ff : {false, true}) {
        if (use_ff && d != 64) continue;
        RopeParams p{style, d, use_ff ? 500000.0f : 10000.0f, use_ff ? ff.data() : nullptr};
        std::vector<float> x = RandomFloats(n * heads * d, 3);
        std::vector<int32_t> pos(n);
        for (int r = 0; r < n; ++r) pos[r] = r * 37 + (r % 3) * 1000;
        std::vector<float> want = x;
        for (int r = 0; r < n; ++r) {
          for (int h = 0; h < heads; ++h) {
            ReferenceRope(style, d, p.theta_base, p.freq_factors, pos[r], want.data() + (r * heads + h) * d);
          }
        }
        ASSERT_TRUE(ApplyRope(p, x.data(), n, heads, pos.data()).ok());
        for (size_t i = 0; i < x.size(); ++i) ASSERT_TRUE(Near(x[i], want[i], 1e-5, 1e-5)) << i;
      }
    }
  }
}

TEST(Rope, PositionZeroIsIdentityAndNormIsKept) {
  RopeParams p{RopeStyle::kNeox, 8, 10000.0f, nullptr};
  std::vector<float> x = RandomFloats(8, 4), y = x;
  int32_t zero = 0;
  ASSERT_TRUE(ApplyRope(p, y.data(), 1, 1, &zero).ok());
  EXPECT_EQ(x, y);
  int32_t pos = 12345;
  ASSERT_TRUE(ApplyRope(p, y.data(), 1, 1, &pos).ok());
  // Pairs (i, i+4) keep their length.
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(std::hypot(y[i], y[i + 4]), std::hypot(x[i], x[i + 4]), 1e-5);
  }
  EXPECT_TRUE(ApplyRope(RopeParams{RopeStyle::kNeox, 7, 10000.0f, nullptr}, y.data(), 1, 1, &pos)
                  .IsInvalidArgument());
}

TEST(Rope, Llama3FreqFactors) {
  // Llama 3.1 settings: factor 8, low 1, high 4, original context 8192.
  std::vector<float> ff = Llama3FreqFactors(128, 500000.0f, 8.0f, 1.0f, 4.0f, 8192);
  ASSERT_EQ(ff.size(), 64u);
  EXPECT_EQ(ff[0], 1.0f);    // highest frequency: wavelength 2*pi < 2048, unscaled
  EXPECT_EQ(ff[63], 8.0f);   // lowest: wavelength far above 8192, fully scaled
  for (size_t i = 1; i < ff.size(); ++i) EXPECT_GE(ff[i], ff[i - 1]);
  bool smooth = false;
  for (float f : ff) smooth |= (f > 1.0f && f < 8.0f);
  EXPECT_TRUE(smooth);
}

}  // namespace
}  // namespace hearth::kernels
