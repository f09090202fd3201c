#include "kernels/cpu/elementwise.h"

#include <cmath>
#include <cstring>
#include <iterator>

#include "gtest/gtest.h"
#include "kernels/cpu/test_util.h"

namespace hearth::kernels {
namespace {

using testing::Near;
using testing::RandomFloats;

TEST(SiluMul, MatchesReference) {
  for (int64_t n : {1, 19, 111, 257}) {
    std::vector<float> g = RandomFloats(n, 1, 4.0f), u = RandomFloats(n, 2);
    std::vector<float> out(n);
    SiluMul(g.data(), u.data(), n, out.data());
    for (int64_t i = 0; i < n; ++i) {
      const double want = g[i] / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i];
      ASSERT_TRUE(Near(out[i], want, 1e-6, 1e-5)) << i;
    }
    SiluMul(g.data(), u.data(), n, g.data());  // in place
    EXPECT_EQ(g, out);
  }
}

// Every ISA gives the portable code's bits, over ordinary values and the
// edges of the exp: huge, tiny, subnormal results, infinities and NaN.
TEST(SiluMul, SameBitsAtEveryIsa) {
  std::vector<float> g = RandomFloats(1003, 5, 30.0f), u = RandomFloats(1003, 6);
  const float edges[] = {0.0f, -0.0f, 87.0f, -87.0f, 88.7f, -88.7f, 89.0f, -89.0f, 100.0f, -100.0f, 103.9f, -103.9f,
                         104.0f, -104.0f, 120.0f, -120.0f, 132.0f, -132.0f, 133.5f, -133.5f, 200.0f, -200.0f,
                         1e30f, -1e30f, INFINITY, -INFINITY, NAN, 1e-40f, -1e-40f};
  for (size_t i = 0; i < std::size(edges); ++i) g[i * 7] = edges[i];
  std::vector<float> want(g.size());
  {
    testing::ScopedIsa scoped(Isa::kScalar);
    SiluMul(g.data(), u.data(), static_cast<int64_t>(g.size()), want.data());
  }
  for (Isa isa : testing::AvailableIsas()) {
    testing::ScopedIsa scoped(isa);
    for (int64_t n : {int64_t{1003}, int64_t{13}}) {
      std::vector<float> got(n);
      SiluMul(g.data(), u.data(), n, got.data());
      for (int64_t i = 0; i < n; ++i) {
        if (std::isnan(want[i])) {
          ASSERT_TRUE(std::isnan(got[i])) << "gate " << g[i] << " " << IsaName(isa);
          continue;
        }
        uint32_t a, b;
        std::memcpy(&a, &got[i], 4);
        std::memcpy(&b, &want[i], 4);
        ASSERT_EQ(a, b) << "gate " << g[i] << " " << IsaName(isa);
      }
    }
  }
}

TEST(Add, Elementwise) {
  std::vector<float> a = RandomFloats(111, 1), b = RandomFloats(111, 2), out(111);
  Add(a.data(), b.data(), 111, out.data());
  for (int i = 0; i < 111; ++i) EXPECT_EQ(out[i], a[i] + b[i]);
}

TEST(Softmax, RowsSumToOneAndMatch) {
  const int64_t rows = 19, d = 257;
  std::vector<float> x = RandomFloats(rows * d, 3, 10.0f), y = x;
  Softmax(y.data(), rows, d);
  for (int64_t r = 0; r < rows; ++r) {
    double max = -1e30, sum = 0;
    for (int64_t i = 0; i < d; ++i) max = std::max<double>(max, x[r * d + i]);
    for (int64_t i = 0; i < d; ++i) sum += std::exp(x[r * d + i] - max);
    for (int64_t i = 0; i < d; ++i) {
      ASSERT_TRUE(Near(y[r * d + i], std::exp(x[r * d + i] - max) / sum, 1e-7, 1e-5));
    }
  }
  std::vector<float> big = {1000.0f, 1000.0f};  // no overflow
  Softmax(big.data(), 1, 2);
  EXPECT_FLOAT_EQ(big[0], 0.5f);
}

TEST(Argmax, FirstLargest) {
  std::vector<float> x = {1, 5, -2, 5, 3};
  EXPECT_EQ(Argmax(x.data(), 5), 1);
  EXPECT_EQ(Argmax(x.data(), 1), 0);
  std::vector<float> nan = {NAN, 2, 7, 1};
  EXPECT_EQ(Argmax(nan.data(), 4), 2);
}

}  // namespace
}  // namespace hearth::kernels
