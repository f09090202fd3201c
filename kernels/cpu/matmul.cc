// Matmul: quantize activations once, then tasks over chunks of W rows; inside
// a task, tiles of up to 4 x rows share each decoded W row.
#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <string>

#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/quant.h"

namespace hearth::kernels {
namespace {

constexpr int kXTile = 4;  // x rows per dot tile (the tile kernels' maximum)

Status Validate(const WeightView& w, int64_t n) {
  HEARTH_ASSIGN_OR_RETURN(size_t min_row_bytes, RowBytes(w.type, w.cols));
  if (w.rows < 0 || n < 0) return Status::InvalidArgument("negative matmul shape");
  if (w.row_bytes < min_row_bytes) {
    return Status::InvalidArgument("row_bytes " + std::to_string(w.row_bytes) + " < " +
                                   std::to_string(min_row_bytes));
  }
  // Blocks hold 16-bit halves read in place, so rows must stay 2-byte aligned.
  if (reinterpret_cast<uintptr_t>(w.data) % 2 != 0 || w.row_bytes % 2 != 0) {
    return Status::InvalidArgument("weight rows must be 2-byte aligned");
  }
  if (w.data == nullptr && w.rows > 0) return Status::InvalidArgument("null weight data");
  return Status::Ok();
}

// W rows per task: enough tasks to balance threads, big enough to amortize
// the dispatch, a multiple of 4 to keep rows of a task on whole cache lines.
int64_t RowsPerTask(int64_t m, int threads) {
  const int64_t target = (m + threads * 8 - 1) / (threads * 8);
  return std::clamp<int64_t>((target + 3) / 4 * 4, 4, 64);
}

}  // namespace

Status MatMul(const WeightView& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  HEARTH_RETURN_IF_ERROR(Validate(w, n));
  const int64_t m = w.rows, k = w.cols;
  if (n == 0 || m == 0) return Status::Ok();
  const Isa isa = ActiveIsa();
  const ActType act = ActTypeFor(w.type);
  const size_t x_stride = ActRowBytes(act, k);

  const uint8_t* xq = reinterpret_cast<const uint8_t*>(x);
  if (act != ActType::kF32) {
    uint8_t* buf = pool.SharedScratch(x_stride * n);
    const int64_t rows_per = std::max<int64_t>(1, n / (pool.num_threads() * 4));
    pool.Run((n + rows_per - 1) / rows_per, [&](int64_t t, int) {
      for (int64_t i = t * rows_per; i < std::min(n, (t + 1) * rows_per); ++i) {
        QuantizeActivationRow(act, x + i * k, buf + i * x_stride, k);
      }
    });
    xq = buf;
  }

  const internal::DotTileFn dot = internal::DotTileFor(isa, w.type);
  const int64_t rows_per_task = RowsPerTask(m, pool.num_threads());
  pool.Run((m + rows_per_task - 1) / rows_per_task, [&](int64_t t, int) {
    const int64_t j0 = t * rows_per_task, j1 = std::min(m, j0 + rows_per_task);
    for (int64_t i0 = 0; i0 < n; i0 += kXTile) {
      const int num_x = static_cast<int>(std::min<int64_t>(kXTile, n - i0));
      dot(k, w.data + j0 * w.row_bytes, w.row_bytes, j1 - j0, xq + i0 * x_stride, x_stride, num_x,
          y + i0 * m + j0, m);
    }
  });
  return Status::Ok();
}

}  // namespace hearth::kernels
