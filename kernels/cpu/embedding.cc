// Embedding lookup through the active ISA's dequantizer.
#include "kernels/cpu/embedding.h"

#include <string>

#include "kernels/cpu/quant.h"

namespace hearth::kernels {

Status Embedding(const WeightView& table, const int32_t* ids, int64_t n, float* out) {
  HEARTH_ASSIGN_OR_RETURN(size_t min_row_bytes, RowBytes(table.type, table.cols));
  if (table.row_bytes < min_row_bytes) return Status::InvalidArgument("embedding row_bytes too small");
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= table.rows) {
      return Status::InvalidArgument("token id " + std::to_string(ids[i]) + " outside vocabulary of " +
                                     std::to_string(table.rows));
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    DequantizeRow(table.type, table.data + ids[i] * table.row_bytes, out + i * table.cols, table.cols);
  }
  return Status::Ok();
}

}  // namespace hearth::kernels
