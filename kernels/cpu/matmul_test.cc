#include "kernels/cpu/matmul.h"

#include <cstring>

#include "gtest/gtest.h"
#include "kernels/cpu/quant.h"
#include "kernels/cpu/test_util.h"
#include "kernels/cpu/vec_dot.h"

namespace hearth::kernels {
namespace {

using testing::AllWeightTypes;
using testing::AvailableIsas;
using testing::Near;
using testing::RandomFloats;
using testing::RandomWeights;
using testing::ScopedIsa;

struct Matrix {
  GgmlType type;
  int64_t rows, cols;
  std::vector<uint8_t> bytes;
  WeightView view() const {
    return {type, rows, cols, bytes.data(), RowBytes(type, cols).value()};
  }
};

Matrix MakeMatrix(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  return {type, rows, cols, RandomWeights(type, rows, cols, seed)};
}

int64_t ColsFor(GgmlType type) { return BlockElems(type) == 1 ? 111 : 512; }

// y against VecDotRef per element, on awkward shapes (m = 19, 257; n = 1, 19).
TEST(MatMul, MatchesReference) {
  for (GgmlType type : AllWeightTypes()) {
    const int64_t k = ColsFor(type);
    for (int64_t m : {1, 19, 257}) {
      Matrix w = MakeMatrix(type, m, k, 100 + static_cast<uint32_t>(m));
      std::vector<float> wf(m * k);
      for (int64_t j = 0; j < m; ++j) {
        DequantizeRowRef(type, w.bytes.data() + j * w.view().row_bytes, wf.data() + j * k, k);
      }
      for (int64_t n : {1, 19}) {
        std::vector<float> x = RandomFloats(n * k, 7);
        std::vector<float> ref(n * m);
        std::vector<double> mag(n * m, 0);
        std::vector<uint8_t> xq(ActRowBytes(ActTypeFor(type), k));
        for (int64_t i = 0; i < n; ++i) {
          QuantizeActivationRow(ActTypeFor(type), x.data() + i * k, xq.data(), k);
          for (int64_t j = 0; j < m; ++j) {
            ref[i * m + j] = VecDotRef(type, k, w.bytes.data() + j * w.view().row_bytes, xq.data());
            for (int64_t c = 0; c < k; ++c) mag[i * m + j] += std::fabs(wf[j * k + c] * x[i * k + c]);
          }
        }
        for (Isa isa : AvailableIsas()) {
          ScopedIsa scoped(isa);
          ThreadPool pool(2);
          std::vector<float> y(n * m, -7.0f);
          ASSERT_TRUE(MatMul(w.view(), x.data(), n, y.data(), pool).ok());
          for (int64_t e = 0; e < n * m; ++e) {
            ASSERT_TRUE(Near(y[e], ref[e], 1e-5 * mag[e] + 1e-6, 1e-5))
                << GgmlTypeName(type) << " m=" << m << " n=" << n << " e=" << e << " " << IsaName(isa);
          }
        }
      }
    }
  }
}

// y[i, j] is bit-identical for a row alone, inside a batch of 19 with other
// neighbours at every offset, and with 1, 2 or 3 threads.
TEST(MatMul, BatchInvariant) {
  for (GgmlType type : AllWeightTypes()) {
    const int64_t k = ColsFor(type), m = 67, n = 19;
    Matrix w = MakeMatrix(type, m, k, 9);
    std::vector<float> batch = RandomFloats(n * k, 10);
    for (Isa isa : AvailableIsas()) {
      ScopedIsa scoped(isa);
      ThreadPool pool1(1), pool2(2), pool3(3);
      std::vector<float> y_batch(n * m), y_batch3(n * m);
      ASSERT_TRUE(MatMul(w.view(), batch.data(), n, y_batch.data(), pool2).ok());
      ASSERT_TRUE(MatMul(w.view(), batch.data(), n, y_batch3.data(), pool3).ok());
      EXPECT_EQ(std::memcmp(y_batch.data(), y_batch3.data(), y_batch.size() * 4), 0);
      for (int64_t i = 0; i < n; ++i) {
        std::vector<float> y_alone(m);
        ASSERT_TRUE(MatMul(w.view(), batch.data() + i * k, 1, y_alone.data(), pool1).ok());
        ASSERT_EQ(std::memcmp(y_alone.data(), y_batch.data() + i * m, m * 4), 0)
            << GgmlTypeName(type) << " row " << i << " " << IsaName(isa);
      }
      // Row 5 placed among different neighbours, at a different tile offset.
      std::vector<float> other = RandomFloats(n * k, 12);
      std::memcpy(other.data() + 2 * k, batch.data() + 5 * k, k * 4);
      std::vector<float> y_other(n * m);
      ASSERT_TRUE(MatMul(w.view(), other.data(), n, y_other.data(), pool2).ok());
      EXPECT_EQ(std::memcmp(y_other.data() + 2 * m, y_batch.data() + 5 * m, m * 4), 0)
          << GgmlTypeName(type) << " " << IsaName(isa);
    }
  }
}

// A view that starts one row later pairs the weight rows differently inside
// the kernels; every output must still be bit-identical.
TEST(MatMul, RowGroupingInvariant) {
  for (GgmlType type : AllWeightTypes()) {
    const int64_t k = ColsFor(type), m = 21, n = 5;
    Matrix w = MakeMatrix(type, m, k, 13);
    std::vector<float> x = RandomFloats(n * k, 14);
    for (Isa isa : AvailableIsas()) {
      ScopedIsa scoped(isa);
      ThreadPool pool(2);
      std::vector<float> y(n * m), y_shift(n * (m - 1));
      ASSERT_TRUE(MatMul(w.view(), x.data(), n, y.data(), pool).ok());
      WeightView shifted = w.view();
      shifted.data += shifted.row_bytes;
      shifted.rows = m - 1;
      ASSERT_TRUE(MatMul(shifted, x.data(), n, y_shift.data(), pool).ok());
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(std::memcmp(y_shift.data() + i * (m - 1), y.data() + i * m + 1, (m - 1) * 4), 0)
            << GgmlTypeName(type) << " " << IsaName(isa);
      }
    }
  }
}

TEST(MatMul, RejectsBadShapes) {
  ThreadPool pool(1);
  Matrix w = MakeMatrix(GgmlType::kQ4_1, 4, 64, 1);
  std::vector<float> x(64), y(4);
  WeightView v = w.view();
  v.cols = 40;
  EXPECT_TRUE(MatMul(v, x.data(), 1, y.data(), pool).IsInvalidArgument());
  v = w.view();
  v.row_bytes = 10;
  EXPECT_TRUE(MatMul(v, x.data(), 1, y.data(), pool).IsInvalidArgument());
  v = w.view();
  v.data = w.bytes.data() + 1;
  EXPECT_TRUE(MatMul(v, x.data(), 1, y.data(), pool).IsInvalidArgument());
}

// A group sharing x gives each matrix the bits MatMul gives it alone, with weight types of
// different activation formats mixed in one group (K-quants need 256 columns, so k = 512).
TEST(MatMul, SharedGroupMatchesEachAlone) {
  const int64_t k = 512;
  std::vector<Matrix> ws;
  uint32_t seed = 30;
  for (GgmlType type : AllWeightTypes()) ws.push_back(MakeMatrix(type, 19 + ws.size() * 7, k, ++seed));
  ASSERT_LE(ws.size(), 16u);
  for (Isa isa : AvailableIsas()) {
    ScopedIsa scoped(isa);
    for (int64_t n : {1, 6}) {
      std::vector<float> x = RandomFloats(n * k, 31);
      for (size_t first = 0; first < ws.size(); first += 8) {
        const size_t count = std::min<size_t>(8, ws.size() - first);
        std::vector<WeightView> views;
        std::vector<std::vector<float>> ys;
        for (size_t i = 0; i < count; ++i) {
          views.push_back(ws[first + i].view());
          ys.emplace_back(n * views.back().rows, -7.0f);
        }
        std::vector<MatMulOutput> outs;
        for (size_t i = 0; i < count; ++i) outs.push_back({&views[i], ys[i].data()});
        ThreadPool pool(3);
        ASSERT_TRUE(MatMulShared(outs, x.data(), n, pool).ok());
        for (size_t i = 0; i < count; ++i) {
          std::vector<float> alone(ys[i].size());
          ASSERT_TRUE(MatMul(views[i], x.data(), n, alone.data(), pool).ok());
          EXPECT_EQ(std::memcmp(alone.data(), ys[i].data(), alone.size() * 4), 0)
              << GgmlTypeName(views[i].type) << " n=" << n << " " << IsaName(isa);
        }
      }
    }
  }
}

TEST(MatMul, SharedGroupRejectsMismatch) {
  ThreadPool pool(1);
  Matrix a = MakeMatrix(GgmlType::kQ4_1, 4, 64, 1), b = MakeMatrix(GgmlType::kQ4_1, 4, 128, 2);
  std::vector<float> x(128), ya(4), yb(4);
  const WeightView va = a.view(), vb = b.view();
  const MatMulOutput differ[] = {{&va, ya.data()}, {&vb, yb.data()}};
  EXPECT_TRUE(MatMulShared(differ, x.data(), 1, pool).IsInvalidArgument());
  std::vector<MatMulOutput> many(9, MatMulOutput{&va, ya.data()});
  EXPECT_TRUE(MatMulShared(many, x.data(), 1, pool).IsInvalidArgument());
  const MatMulOutput null_view[] = {{nullptr, ya.data()}};
  EXPECT_TRUE(MatMulShared(null_view, x.data(), 1, pool).IsInvalidArgument());
}

// Padded rows (row_bytes > the packed size) are honoured.
TEST(MatMul, RowStride) {
  const int64_t k = 64, m = 3;
  Matrix packed = MakeMatrix(GgmlType::kQ8_0, m, k, 3);
  const size_t rb = packed.view().row_bytes, stride = rb + 6;
  std::vector<uint8_t> padded(stride * m, 0xee);
  for (int64_t j = 0; j < m; ++j) std::memcpy(padded.data() + j * stride, packed.bytes.data() + j * rb, rb);
  WeightView v = packed.view();
  v.data = padded.data();
  v.row_bytes = stride;
  std::vector<float> x = RandomFloats(k, 4), y1(m), y2(m);
  ThreadPool pool(2);
  ASSERT_TRUE(MatMul(packed.view(), x.data(), 1, y1.data(), pool).ok());
  ASSERT_TRUE(MatMul(v, x.data(), 1, y2.data(), pool).ok());
  EXPECT_EQ(y1, y2);
}

}  // namespace
}  // namespace hearth::kernels
