// Matmul: quantize activations once, then tasks over chunks of W rows; inside
// a task, tiles of up to 4 x rows share each decoded W row. A group of
// matrices reading the same x shares the quantization and the parallel-for.
#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/cpu/isa_kernels.h"
#include "kernels/cpu/quant.h"

namespace hearth::kernels {
namespace {

constexpr int kXTile = 4;       // x rows per dot tile (the tile kernels' maximum)
constexpr int kMaxGroup = 8;    // matrices in one MatMulShared
constexpr int kNumActTypes = 4;  // ActType's values

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

// One matrix of the group as the tasks see it.
struct Part {
  const WeightView* w = nullptr;
  float* y = nullptr;
  internal::DotTileFn dot = nullptr;
  const uint8_t* xq = nullptr;  // x in the matrix's activation format
  size_t x_stride = 0;
  int64_t rows_per_task = 0;
  int64_t first_task = 0;       // tasks [first_task, next part's first_task) are this matrix's
};

}  // namespace

Status MatMul(const WeightView& w, const float* x, int64_t n, float* y, ThreadPool& pool) {
  const MatMulOutput out{&w, y};
  return MatMulShared(std::span<const MatMulOutput>(&out, 1), x, n, pool);
}

Status MatMulShared(std::span<const MatMulOutput> outputs, const float* x, int64_t n, ThreadPool& pool) {
  if (outputs.size() > static_cast<size_t>(kMaxGroup)) {
    return Status::InvalidArgument("at most " + std::to_string(kMaxGroup) + " matrices share one matmul");
  }
  for (const MatMulOutput& o : outputs) {
    if (o.w == nullptr) return Status::InvalidArgument("null weight view");
    HEARTH_RETURN_IF_ERROR(Validate(*o.w, n));
    if (o.w->cols != outputs[0].w->cols) return Status::InvalidArgument("matrices of a group differ in columns");
  }
  if (n == 0 || outputs.empty()) return Status::Ok();
  const int64_t k = outputs[0].w->cols;
  const Isa isa = ActiveIsa();

  // x in each activation format the group needs, one after another in the shared scratch.
  size_t offsets[kNumActTypes] = {};
  bool needed[kNumActTypes] = {};
  size_t total = 0;
  for (const MatMulOutput& o : outputs) {
    const ActType act = ActTypeFor(o.w->type);
    if (act == ActType::kF32 || needed[static_cast<int>(act)]) continue;
    needed[static_cast<int>(act)] = true;
    offsets[static_cast<int>(act)] = total;
    total += (ActRowBytes(act, k) * n + 63) / 64 * 64;
  }
  uint8_t* buf = total > 0 ? pool.SharedScratch(total) : nullptr;
  for (int a = 0; a < kNumActTypes; ++a) {
    if (!needed[a]) continue;
    const ActType act = static_cast<ActType>(a);
    const size_t stride = ActRowBytes(act, k);
    uint8_t* dst = buf + offsets[a];
    const int64_t rows_per = std::max<int64_t>(1, n / (pool.num_threads() * 4));
    pool.Run((n + rows_per - 1) / rows_per, [&](int64_t t, int) {
      for (int64_t i = t * rows_per; i < std::min(n, (t + 1) * rows_per); ++i) {
        QuantizeActivationRow(act, x + i * k, dst + i * stride, k);
      }
    });
  }

  Part parts[kMaxGroup];
  const int num_parts = static_cast<int>(outputs.size());
  int64_t num_tasks = 0;
  for (int p = 0; p < num_parts; ++p) {
    Part& part = parts[p];
    part.w = outputs[p].w;
    part.y = outputs[p].y;
    part.dot = internal::DotTileFor(isa, part.w->type);
    const ActType act = ActTypeFor(part.w->type);
    part.xq = act == ActType::kF32 ? reinterpret_cast<const uint8_t*>(x) : buf + offsets[static_cast<int>(act)];
    part.x_stride = ActRowBytes(act, k);
    part.rows_per_task = RowsPerTask(part.w->rows, pool.num_threads());
    part.first_task = num_tasks;
    num_tasks += (part.w->rows + part.rows_per_task - 1) / part.rows_per_task;
  }
  pool.Run(num_tasks, [&](int64_t t, int) {
    int p = num_parts - 1;
    while (parts[p].first_task > t) --p;
    const Part& part = parts[p];
    const WeightView& w = *part.w;
    const int64_t m = w.rows;
    const int64_t j0 = (t - part.first_task) * part.rows_per_task, j1 = std::min(m, j0 + part.rows_per_task);
    for (int64_t i0 = 0; i0 < n; i0 += kXTile) {
      const int num_x = static_cast<int>(std::min<int64_t>(kXTile, n - i0));
      part.dot(k, w.data + j0 * w.row_bytes, w.row_bytes, j1 - j0, part.xq + i0 * part.x_stride, part.x_stride,
               num_x, part.y + i0 * m + j0, m);
    }
  });
  return Status::Ok();
}

}  // namespace hearth::kernels
