// Compares the CUDA RMSNorm with a CPU reference; skips without a GPU.
#include "kernels/cuda/rms_norm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cuda/cuda_check.h"

namespace hearth::cuda {
namespace {

void ReferenceRmsNorm(const std::vector<float>& x, const std::vector<float>& w, std::vector<float>& y, int64_t rows,
                      int64_t hidden, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (int64_t i = 0; i < hidden; ++i) sum += double(x[r * hidden + i]) * x[r * hidden + i];
    float scale = 1.0f / std::sqrt(float(sum / hidden) + eps);
    for (int64_t i = 0; i < hidden; ++i) y[r * hidden + i] = x[r * hidden + i] * scale * w[i];
  }
}

TEST(CudaRmsNormTest, MatchesCpuReferenceOnAwkwardShapes) {
  if (DeviceCount() == 0) GTEST_SKIP() << "no CUDA device";
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  for (auto [rows, hidden] : {std::pair<int64_t, int64_t>{19, 111}, {1, 576}, {33, 4096}}) {
    std::vector<float> x(rows * hidden), w(hidden), ref(rows * hidden), got(rows * hidden);
    for (float& v : x) v = dist(rng);
    for (float& v : w) v = dist(rng);
    ReferenceRmsNorm(x, w, ref, rows, hidden, 1e-5f);
    float *dx, *dw, *dy;
    ASSERT_EQ(cudaMalloc(&dx, x.size() * 4), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dw, w.size() * 4), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&dy, x.size() * 4), cudaSuccess);
    cudaMemcpy(dx, x.data(), x.size() * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(dw, w.data(), w.size() * 4, cudaMemcpyHostToDevice);
    ASSERT_TRUE(RmsNorm(dx, dw, dy, rows, hidden, 1e-5f, nullptr).ok());
    cudaMemcpy(got.data(), dy, got.size() * 4, cudaMemcpyDeviceToHost);
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_NEAR(got[i], ref[i], 1e-5f + 1e-4f * std::fabs(ref[i])) << "rows=" << rows << " i=" << i;
    }
    cudaFree(dx);
    cudaFree(dw);
    cudaFree(dy);
  }
}

TEST(CudaRmsNormTest, RejectsBadShape) {
  EXPECT_FALSE(RmsNorm(nullptr, nullptr, nullptr, 1, 0, 1e-5f, nullptr).ok());
}

}  // namespace
}  // namespace hearth::cuda
