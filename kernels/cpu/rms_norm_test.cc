#include "kernels/cpu/rms_norm.h"

#include <cmath>
#include <cstring>

#include "gtest/gtest.h"
#include "kernels/cpu/test_util.h"

namespace hearth::kernels {
namespace {

using testing::Near;
using testing::RandomFloats;

TEST(RmsNorm, MatchesDoubleReference) {
  for (int64_t d : {1, 19, 111, 257, 576}) {
    const int64_t n = 19;
    std::vector<float> x = RandomFloats(n * d, 1, 2.0f), w = RandomFloats(d, 2);
    std::vector<float> y(n * d);
    RmsNorm(x.data(), w.data(), n, d, 1e-5f, y.data());
    for (int64_t r = 0; r < n; ++r) {
      double ss = 0;
      for (int64_t i = 0; i < d; ++i) ss += static_cast<double>(x[r * d + i]) * x[r * d + i];
      const double scale = 1.0 / std::sqrt(ss / d + 1e-5);
      for (int64_t i = 0; i < d; ++i) {
        ASSERT_TRUE(Near(y[r * d + i], x[r * d + i] * scale * w[i], 1e-6, 1e-5)) << d << " " << i;
      }
    }
    // In place gives the same bits, and a row alone the same as in the batch.
    std::vector<float> inplace = x;
    RmsNorm(inplace.data(), w.data(), n, d, 1e-5f, inplace.data());
    EXPECT_EQ(inplace, y);
    std::vector<float> alone(d);
    RmsNorm(x.data() + 3 * d, w.data(), 1, d, 1e-5f, alone.data());
    EXPECT_EQ(std::memcmp(alone.data(), y.data() + 3 * d, d * 4), 0);
  }
}

}  // namespace
}  // namespace hearth::kernels
